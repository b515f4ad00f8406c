// The process model of a simulated PLC as OPC UA variables: one read-only variable per tag of the
// Modbus simulator's model, in a namespace of its own (urn:otsentry:sim:<model>), with the
// engineering value (scale applied) and a minimumSamplingInterval so subscriptions see every tick.
import type { Namespace, OPCUAServer } from 'node-opcua';
import type { NodeOpcua } from '../../protocols/opcua/lib.js';
import type { Identity } from '../modbus/identity.js';
import type { Plc } from '../modbus/plc.js';
import type { TagDef } from '../modbus/tags.js';

export function namespaceUri(model: string): string {
  return `urn:otsentry:sim:${model}`;
}

/** NodeId of a tag in the agent config's form: nsu=urn:otsentry:sim:tank;s=level */
export function tagNodeId(model: string, tag: string): string {
  return `nsu=${namespaceUri(model)};s=${tag}`;
}

/** OPC UA data type of a model tag (scaled integers become Double, like a PLC's engineering value). */
export function opcuaDataType(t: TagDef): 'Boolean' | 'Float' | 'Double' | 'Int16' | 'UInt16' | 'UInt32' | 'Int32' {
  if (t.type === 'bool') return 'Boolean';
  if (t.scale !== undefined && t.scale !== 1) return 'Double';
  switch (t.type) {
    case 'float32':
      return 'Float';
    case 'int16':
      return 'Int16';
    case 'uint16':
      return 'UInt16';
    case 'uint32':
      return 'UInt32';
    default:
      return 'Int32';
  }
}

/**
 * Add the model's variables under Objects/<folder>. Like a PLC's I/O image, their values change once
 * per scan: refresh() (called after every model step) copies changed tag values into the variables,
 * so reads and subscriptions see the same value and unchanged values cost nothing.
 */
export function addProcessVariables(ua: NodeOpcua, server: OPCUAServer, plc: Plc, samplingMs: number): { namespace: Namespace; refresh(): void } {
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.registerNamespace(namespaceUri(plc.model.type));
  const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: plc.model.type === 'tank' ? 'Tank' : 'Bench', nodeId: `s=${plc.model.type}` });
  const vars = plc.model.tags.map((t) => {
    const dataType = opcuaDataType(t);
    const dt = ua.DataType[dataType];
    const variant = (v: number) => new ua.Variant({ dataType: dt, value: t.type === 'bool' ? v !== 0 : v });
    const last = plc.readTag(t.name);
    const variable = ns.addVariable({
      componentOf: folder,
      browseName: t.name,
      nodeId: `s=${t.name}`,
      description: t.description,
      dataType,
      accessLevel: ua.makeAccessLevelFlag('CurrentRead'),
      userAccessLevel: ua.makeAccessLevelFlag('CurrentRead'),
      minimumSamplingInterval: samplingMs,
      value: variant(last),
    });
    if (t.unit) {
      ns.addVariable({ propertyOf: variable, browseName: 'EngineeringUnits', dataType: 'String', value: { dataType: ua.DataType.String, value: t.unit } });
    }
    return { name: t.name, variable, variant, last };
  });
  return {
    namespace: ns,
    refresh() {
      for (const v of vars) {
        const x = plc.readTag(v.name);
        if (x === v.last || (Number.isNaN(x) && Number.isNaN(v.last))) continue;
        v.last = x;
        v.variable.setValueFromSource(v.variant(x));
      }
    },
  };
}

/** BuildInfo of a simulated server, derived from the PLC identity (firmware-swap changes it). */
export function buildInfoOf(identity: Identity): { productName: string; manufacturerName: string; softwareVersion: string; buildNumber: string; productUri: string } {
  return {
    productName: identity.product_name || identity.model_name || 'otsentry simulated PLC',
    manufacturerName: identity.vendor_name,
    softwareVersion: identity.revision,
    buildNumber: `${identity.revision}+${identity.model_name || 'sim'}`,
    productUri: `urn:otsentry:sim:${identity.product_code}`,
  };
}

/** Copy the PLC identity into the server's BuildInfo when it changed; returns the key now applied. */
export function syncBuildInfo(server: OPCUAServer, identity: Identity, applied: string): string {
  const info = buildInfoOf(identity);
  const key = JSON.stringify(info);
  if (key === applied) return applied;
  const b = server.engine.buildInfo;
  b.productName = info.productName;
  b.manufacturerName = info.manufacturerName;
  b.softwareVersion = info.softwareVersion;
  b.buildNumber = info.buildNumber;
  b.productUri = info.productUri;
  return key;
}
