// Central's MQTT connection: MQTT 5 by default, a stable client id with a broker session that
// outlives restarts, the events of every agent through a shared subscription (central processes
// in one group split them), the retained status and assets of every agent through plain ones.
//
// PUBACK only after the message is stored: mqtt.js acks a QoS 1 message as soon as its
// handleMessage callback runs and takes the next packet only then, which would commit one message
// at a time. So handleMessage answers at once without an ack (an error makes mqtt.js skip its
// PUBACK) and each message carries its own ack(), sent when the pipeline has stored or refused it.
// An ack from before a reconnect is dropped: the broker resends that message and it is deduped.
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../../protocols/log.js';
import { explainError } from '../forward/errors.js';
import { clientOptions, redactUrl } from '../forward/options.js';
import type { CentralBrokerConfig } from './config/schema.js';
import { OperationalError } from '../../protocols/errors.js';

export type TopicKind = 'events' | 'status' | 'assets';

export interface Inbound {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** tell the broker the message is taken care of (no-op for QoS 0) */
  ack(): void;
}

export interface LinkStats {
  connected: boolean;
  connects: number;
  last_error?: string;
}

/** The three subscriptions of a central process. */
export function centralTopics(b: Pick<CentralBrokerConfig, 'topic_prefix' | 'share_group' | 'shared_subscription'>): Record<TopicKind, string> {
  const p = b.topic_prefix;
  return {
    events: `${b.shared_subscription ? `$share/${b.share_group}/` : ''}${p}/+/+/events`,
    status: `${p}/+/+/status`,
    assets: `${p}/+/+/assets`,
  };
}

/** An error central cannot get past at startup (refused login, bad TLS files): exit 1 with this message. */
export class LinkError extends OperationalError {
  constructor(message: string, code: string) {
    super(code, message, 'central');
  }
}

const NO_ACK = new Error('acked by the pipeline once stored');

export class CentralLink {
  readonly stats: LinkStats = { connected: false, connects: 0 };
  private client?: MqttClient;
  /** rises on every (re)connection: acks of an older connection are not sent */
  private generation = 0;
  private readonly url: string;
  private subscribed: Promise<void> = Promise.resolve();

  constructor(
    private readonly broker: CentralBrokerConfig,
    private readonly centralId: string,
    private readonly baseDir: string,
    private readonly log: Logger,
    private readonly onMessage: (m: Inbound) => void,
  ) {
    this.url = redactUrl(broker.url);
  }

  /** Connect and subscribe; rejects with a LinkError when the first connection fails. */
  async start(): Promise<void> {
    const b = this.broker;
    const opts: IClientOptions = {
      ...clientOptions(b, '', '', this.baseDir),
      clientId: b.client_id ?? `otsentry-central-${this.centralId}`,
      protocolVersion: b.protocol_version,
      clean: b.session_expiry_secs === 0,
      reconnectPeriod: b.reconnect_ms,
      // Ours (subscribe()): status and assets again on every connection, for their retained payloads.
      resubscribe: false,
    };
    if (b.protocol_version === 5) {
      // receiveMaximum: how many unacked messages the broker may send us; acks wait for a store commit.
      opts.properties = { sessionExpiryInterval: b.session_expiry_secs, receiveMaximum: 5000 };
    }
    const client = mqtt.connect(b.url, opts);
    this.client = client;
    client.handleMessage = (packet: IPublishPacket, callback) => {
      const gen = this.generation;
      const id = packet.messageId;
      const qos = packet.qos;
      let acked = false;
      this.onMessage({
        topic: packet.topic,
        payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
        retain: packet.retain,
        ack: () => {
          if (acked || qos === 0 || id === undefined || gen !== this.generation || !client.connected) return;
          acked = true;
          if (qos === 1) (client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'puback', messageId: id, reasonCode: 0 });
        },
      });
      // QoS 2 is never asked for; QoS 0 needs no ack; QoS 1 is acked by the pipeline.
      callback(qos === 1 ? NO_ACK : undefined);
    };
    client.on('connect', (connack) => {
      this.generation++;
      this.stats.connected = true;
      this.stats.connects++;
      this.log.info({ broker: this.url, session_present: connack.sessionPresent, mqtt: b.protocol_version }, 'Connected to the broker.');
      this.subscribed = this.subscribe(client);
    });
    client.on('close', () => {
      if (this.stats.connected) this.log.warn({ broker: this.url, error_code: 'broker_disconnected' }, `Lost the connection to broker ${this.url}; reconnecting every ${b.reconnect_ms} ms (unacked events are resent by the broker).`);
      this.stats.connected = false;
    });
    client.on('error', (e) => {
      const x = explainError(e, this.url, b.protocol_version, this.stats.connected);
      if (x.message !== this.stats.last_error) this.log.error({ error_code: x.code }, x.message);
      this.stats.last_error = x.message;
    });
    await new Promise<void>((resolve, reject) => {
      const ok = () => {
        client.off('error', bad);
        resolve();
      };
      const bad = (e: Error) => {
        const x = explainError(e, this.url, b.protocol_version);
        if (!x.refused) return; // unreachable for now: mqtt.js keeps trying, the log says why
        client.off('connect', ok);
        void client.endAsync(true);
        reject(new LinkError(x.message, x.code));
      };
      client.once('connect', ok);
      client.on('error', bad);
    });
    // The first subscriptions are in place before start() resolves: from then on nothing published is missed.
    await this.subscribed;
  }

  private async subscribe(client: MqttClient): Promise<void> {
    const t = centralTopics(this.broker);
    // Status and assets first: their retained keys are in before the first event is judged.
    const order: Array<[TopicKind, string]> = [
      ['status', t.status],
      ['assets', t.assets],
      ['events', t.events],
    ];
    for (const [kind, topic] of order) {
      try {
        const granted = await client.subscribeAsync(topic, { qos: 1 });
        if (granted.some((g) => g.qos >= 128)) {
          this.log.error({ error_code: 'subscribe_refused', topic }, `Broker ${this.url} refused the subscription to ${topic} (reason ${granted[0]?.qos}); check its ACL for this user${kind === 'events' && this.broker.shared_subscription ? ', and that it supports MQTT 5 shared subscriptions (else set broker.shared_subscription: false and run one central process)' : ''}.`);
        }
      } catch (e) {
        this.log.error({ error_code: 'subscribe_failed', topic }, `Subscribing to ${topic} failed (${(e as Error).message}); it is retried on the next connection.`);
      }
    }
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(false).catch(() => undefined);
    this.stats.connected = false;
  }
}
