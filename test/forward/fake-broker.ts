// A minimal MQTT 5 broker built on mqtt-packet, for PUBACK reason codes a real broker cannot be
// made to send (0x97 quota exceeded, 0x99 payload format invalid): it accepts every CONNECT and
// answers each QoS 1 PUBLISH with the reason code `decide` returns, or closes the connection
// without an answer when it returns 'close' (as some brokers do with a packet they refuse), or
// never answers when it returns 'hold'.
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';

export interface FakePublish {
  topic: string;
  payload: string;
  reasonCode: number | 'close' | 'hold';
}

export interface FakeBroker {
  url: string;
  publishes: FakePublish[];
  connects: number;
  close(): Promise<void>;
}

export async function startFakeBroker(decide: (topic: string, payload: string) => number | 'close' | 'hold'): Promise<FakeBroker> {
  const publishes: FakePublish[] = [];
  const sockets = new Set<net.Socket>();
  const state = { connects: 0 };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const opts = { protocolVersion: 5 };
    const parser = mqttPacket.parser(opts);
    const send = (p: Packet) => sock.write(mqttPacket.generate(p, opts));
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') {
        state.connects++;
        send({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 20 } });
      } else if (p.cmd === 'publish') {
        const pub = p as IPublishPacket;
        const payload = pub.payload.toString();
        const reasonCode = decide(pub.topic, payload);
        publishes.push({ topic: pub.topic, payload, reasonCode });
        if (reasonCode === 'close') sock.end();
        else if (pub.qos === 1 && reasonCode !== 'hold') send({ cmd: 'puback', messageId: pub.messageId, reasonCode });
      } else if (p.cmd === 'pingreq') {
        send({ cmd: 'pingresp' });
      } else if (p.cmd === 'disconnect') {
        sock.end();
      }
    });
    sock.on('data', (b) => parser.parse(b));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    publishes,
    get connects() {
      return state.connects;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
