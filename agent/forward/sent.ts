// QoS 1 publishes awaiting PUBACK, in the order they were sent. A broker acks QoS 1 in that order
// (MQTT 5 section 4.6), so a refusal it does not attribute (a PUBACK that cannot be parsed, a
// DISCONNECT "packet too large") belongs to the oldest one still waiting.
import type { MqttClient } from 'mqtt';

export type Sent = number | 'status' | 'assets';

export class SentOrder {
  private tx = 0;
  private readonly waiting = new Map<number, Sent>();

  /** Publish with QoS 1 and remember it until its callback; `what` is an event seq or a topic. */
  publish(client: MqttClient, topic: string, payload: string, opts: { qos: 1; retain?: boolean }, what: Sent, done?: (err?: Error) => void): void {
    const t = ++this.tx;
    this.waiting.set(t, what);
    client.publish(topic, payload, opts, (err) => {
      this.waiting.delete(t);
      done?.(err);
    });
  }

  /** Forget and return the oldest publish still awaiting its PUBACK. */
  takeOldest(): Sent | undefined {
    const first = this.waiting.entries().next();
    if (first.done) return undefined;
    this.waiting.delete(first.value[0]);
    return first.value[1];
  }

  clear(): void {
    this.waiting.clear();
  }
}
