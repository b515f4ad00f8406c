// The Poller contract against the OPC UA poller in both modes, read (one batched Read per poll)
// and subscription (the changes the server pushed), each against its own bundled OPC UA
// simulator over Basic256Sha256/SignAndEncrypt, trusted both ways; down = the server restarts
// and keeps its port closed until the suite brings it back.
import { silentLogger } from '../../../protocols/log.js';
import { agentPkiDir } from '../../../protocols/opcua/pki.js';
import { createOpcuaPoller } from '../../../protocols/opcua/poller.js';
import { startOpcuaSimulator } from '../../../simulators/opcua/index.js';
import { freePort } from '../../helpers/ports.js';
import { opcuaDevice, tempDir, trustBothWays } from '../opcua/helpers.js';
import { pollerContract, type DeviceUnderTest } from './poller.contract.js';

async function simulatedServer(mode: 'read' | 'subscription'): Promise<DeviceUnderTest> {
  const id = `ua-contract-${mode}`;
  const sim = await startOpcuaSimulator({ servers: [{ id, tick_ms: 100, sampling_ms: 20 }] }, { logger: silentLogger, timeline: false });
  const server = sim.server(id);
  const over = { mode, subscription: { publishing_interval_ms: 50, sampling_interval_ms: 50 } };
  const dev = opcuaDevice(id, sim.servers[0].endpoint_url, over);
  const dir = tempDir(`contract-${mode}`);
  await trustBothWays(sim, id, dir, dev);
  const ctx = { logger: silentLogger, pkiDir: agentPkiDir(dir) };
  const seen: string[] = [];
  // A restarted server is a new node-opcua server object: watch each one.
  let unwatch = server.onRequest((t) => seen.push(t));
  const nowhere = opcuaDevice('ua-nowhere', `opc.tcp://127.0.0.1:${await freePort()}`, over);
  let restarted: Promise<void> | undefined;
  let release = (): void => undefined;
  return {
    protocol: 'opcua',
    tags: dev.tags.map((t) => t.name),
    poller: () => createOpcuaPoller(dev, ctx),
    unreachable: () => createOpcuaPoller(nowhere, ctx),
    unreachableCode: 'connect_refused',
    down: () =>
      new Promise<void>((isDown) => {
        unwatch();
        restarted = server.restart(
          () =>
            new Promise<void>((back) => {
              release = back;
              isDown();
            }),
        );
      }),
    up: async () => {
      release();
      await restarted;
      unwatch = server.onRequest((t) => seen.push(t));
    },
    requests: () => [...seen],
    stop: async () => {
      unwatch();
      await sim.stop();
    },
  };
}

pollerContract('OPC UA, read mode, bundled simulator', () => simulatedServer('read'));
pollerContract('OPC UA, subscription mode, bundled simulator', () => simulatedServer('subscription'));
