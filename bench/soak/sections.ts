// The soak sections, in the order `npm run soak` runs them. Each lives in its own file.
import { neighboursSection } from './bad-plcs.js';
import { outageSection } from './broker-outage.js';
import { modbusFuzzSection } from './modbus-fuzz.js';
import { opcuaGarbageSection } from './opcua-garbage.js';
import { sigkillSection } from './sigkill.js';

export interface SoakSection {
  /** short name for `npm run soak -- NAME` */
  name: string;
  title: string;
  /** run the long version; print figures through `say`; resolve false if an invariant broke */
  run(say: (line: string) => void): Promise<boolean>;
}

export const SECTIONS: SoakSection[] = [sigkillSection, outageSection, modbusFuzzSection, neighboursSection, opcuaGarbageSection];
