// The register image of one PLC: the four Modbus tables, plus the write check a PLC program applies.

export type Area = 'coil' | 'discrete_input' | 'holding_register' | 'input_register';

export interface ImageSizes {
  coils: number;
  discrete_inputs: number;
  holding_registers: number;
  input_registers: number;
}

/** Return false to refuse a client write with exception 03 (illegal data value). */
export type WriteCheck = (area: 'coil' | 'holding_register', address: number, values: ArrayLike<number>) => boolean;

export class RegisterImage {
  /** one byte per bit, 0 or 1 */
  readonly coils: Uint8Array;
  readonly discreteInputs: Uint8Array;
  readonly holding: Uint16Array;
  readonly input: Uint16Array;
  /** Set by the process model: rejects values the PLC program does not accept (mode 7, valve 150 %). */
  writeCheck: WriteCheck | null = null;

  constructor(sizes: ImageSizes) {
    this.coils = new Uint8Array(sizes.coils);
    this.discreteInputs = new Uint8Array(sizes.discrete_inputs);
    this.holding = new Uint16Array(sizes.holding_registers);
    this.input = new Uint16Array(sizes.input_registers);
  }

  table(area: Area): Uint8Array | Uint16Array {
    switch (area) {
      case 'coil':
        return this.coils;
      case 'discrete_input':
        return this.discreteInputs;
      case 'holding_register':
        return this.holding;
      case 'input_register':
        return this.input;
    }
  }

  /** A client write (FC5/6/15/16): false when the PLC program refuses the value. */
  clientWrite(area: 'coil' | 'holding_register', address: number, values: ArrayLike<number>): boolean {
    if (this.writeCheck && !this.writeCheck(area, address, values)) return false;
    const t = area === 'coil' ? this.coils : this.holding;
    for (let i = 0; i < values.length; i++) t[address + i] = values[i];
    return true;
  }
}
