// Table tests of the detectors fed by facts: availability, exceptions, diagnostics.
import { describe, expect, it } from 'vitest';
import { counterDelta } from '../../rules/diagnostics.js';
import type { Finding } from '../../rules/types.js';
import { engine, fact, link, marks, T0 } from './helpers.js';

type LinkData = Parameters<typeof link>[1];

function runLinks(rule: Record<string, unknown>, polls: LinkData[]): Finding[] {
  const e = engine([{ id: 'r', device: 'tank1', ...rule }]);
  return polls.flatMap((d, i) => [...e.onFact(link(T0 + i * 1000, d))]);
}

const up = (rtt = 20): LinkData => ({ reachable: true, rtt_ms: rtt });
const down: LinkData = { reachable: false, rtt_ms: null, error_code: 'timeout' };
/** rtt of a healthy PLC: 20 ms with a little jitter */
const jitter = (n: number, base = 20) => Array.from({ length: n }, (_, i) => up(base + (((i * 7) % 5) - 2) * (base / 10)));

describe('availability', () => {
  const cases: Array<[string, Record<string, unknown>, LinkData[], string[]]> = [
    ['reachable is silent', {}, jitter(30), []],
    ['one failed poll is tolerated', {}, [up(), down, up()], []],
    ['two failed polls raise, the first good poll clears', {}, [up(), down, down, down, up()], ['R@2:unreachable', 'C@4:unreachable']],
    ['down_after_polls 1', { down_after_polls: 1 }, [down, up()], ['R@0:unreachable', 'C@1:unreachable']],
    ['a 10x slow-down is caught within two polls', {}, [...jitter(15), up(200), up(210), up(190), up(20), up(21)], ['R@16:slow_response', 'C@19:slow_response']],
    ['a single spike is not', {}, [...jitter(15), up(300), ...jitter(5)], []],
    ['normal jitter is not', {}, [...jitter(10), ...Array.from({ length: 50 }, (_, i) => up(20 + (i % 3 === 0 ? 8 : -3)))], []],
    ['a fast link needs the absolute margin', {}, [...jitter(12, 1), up(10), up(12), up(11)], []],
    ['a fast link slowed by a real amount', {}, [...jitter(12, 1), up(80), up(90)], ['R@13:slow_response']],
    ['nothing judged during warm-up', {}, [up(20), up(20), up(500), up(500)], []],
    ['rtt_check false', { rtt_check: false }, [...jitter(15), up(500), up(500)], []],
  ];
  it.each(cases)('%s', (_n, p, polls, want) => {
    expect(marks(runLinks({ type: 'availability', ...p }, polls))).toEqual(want);
  });

  it('does not learn the attack as normal', () => {
    const polls = [...jitter(15), ...Array.from({ length: 40 }, () => up(200))];
    expect(marks(runLinks({ type: 'availability' }, polls))).toEqual(['R@16:slow_response']);
  });

  it('describes an outage', () => {
    const fs = runLinks({ type: 'availability' }, [up(), down, down, down, up()]);
    expect(fs[0]).toMatchObject({ category: 'availability', severity: 'high', condition: 'unreachable', evidence: { failed_polls: 2, error_code: 'timeout' } });
    expect(fs[0].message).toBe('tank1 unreachable for 2 polls (timeout)');
    expect(fs[1].message).toBe('tank1 reachable again after 3 failed polls (3 s)');
  });

  it('describes a slow response', () => {
    const [f] = runLinks({ type: 'availability' }, [...Array.from({ length: 12 }, () => up(20)), up(200), up(200)]);
    expect(f.message).toBe('tank1 answers in 200 ms, normally 20 ms (threshold 60 ms)');
  });
});

describe('exceptions', () => {
  const ok: LinkData = { reachable: true };
  const exc = (codes: number[]): LinkData => ({ reachable: true, exception_codes: codes, error_code: 'modbus_exception' });
  const bad = (n: number): LinkData => ({ reachable: true, bad_responses: n, error_code: 'bad_response' });
  const cases: Array<[string, Record<string, unknown>, LinkData[], string[]]> = [
    ['clean polls are silent', {}, [ok, ok, ok], []],
    ['an exception raises, three clean polls clear', {}, [ok, exc([2]), exc([2]), ok, ok, ok], ['R@1:exception', 'C@5:exception']],
    ['tolerated count', { max_exceptions_per_poll: 1 }, [exc([6]), exc([6, 6])], ['R@1:exception']],
    ['only listed codes count', { codes: [1, 2] }, [exc([6]), exc([2])], ['R@1:exception']],
    ['malformed answers', {}, [ok, bad(1), ok, ok, ok], ['R@1:bad_response', 'C@4:bad_response']],
    ['error_code alone counts as one', {}, [{ reachable: false, error_code: 'bad_response' }], ['R@0:bad_response']],
    ['unreachable polls neither raise nor clear', { clear_after_polls: 1 }, [exc([2]), { reachable: false, error_code: 'timeout' }, ok], ['R@0:exception', 'C@2:exception']],
  ];
  it.each(cases)('%s', (_n, p, polls, want) => {
    expect(marks(runLinks({ type: 'exceptions', ...p }, polls))).toEqual(want);
  });

  it('names the exception codes', () => {
    const [f] = runLinks({ type: 'exceptions' }, [exc([2, 2])]);
    expect(f.message).toBe('tank1 answered 2 requests with Modbus exceptions (2 illegal data address)');
    expect(f).toMatchObject({ category: 'anomaly', severity: 'medium' });
  });
});

describe('diagnostics', () => {
  const d = (bus: number, agent: number, extra: Record<string, unknown> = {}) => ({
    bus_message_count: bus,
    bus_comm_error_count: 0,
    bus_exception_error_count: 0,
    server_message_count: bus,
    server_no_response_count: 0,
    agent_requests_total: agent,
    ...extra,
  });
  const run = (p: Record<string, unknown>, facts: Record<string, unknown>[]) => {
    const e = engine([{ id: 'diag', type: 'diagnostics', device: 'tank1', ...p }]);
    return facts.flatMap((data, i) => [...e.onFact(fact('diagnostics', data, T0 + i * 1000))]);
  };
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>[], string[]]> = [
    ['counters follow the agent', {}, [d(100, 1000), d(150, 1050), d(203, 1100)], []],
    ['another master raises, two normal intervals clear', {}, [d(100, 1000), d(300, 1050), d(350, 1100), d(400, 1150)], ['R@1:foreign_master', 'C@3:foreign_master']],
    ['within the tolerance', {}, [d(100, 1000), d(155, 1050)], []],
    ['16-bit wrap is growth, not a reset', {}, [d(65530, 1000), d(44, 1050)], []],
    ['wrap with a foreign master', {}, [d(65530, 1000), d(400, 1050)], ['R@1:foreign_master']],
    ['counter reset (restart or clear counters)', {}, [d(30000, 1000), d(10, 1050), d(60, 1100)], ['R@1:counter_reset', 'C@2:counter_reset']],
    ['report_resets false', { report_resets: false }, [d(30000, 1000), d(10, 1050)], []],
    ['comm errors rising', {}, [d(0, 0), d(50, 50, { bus_comm_error_count: 3 }), d(100, 100, { bus_comm_error_count: 3 }), d(150, 150, { bus_comm_error_count: 3 })], ['R@1:comm_errors', 'C@3:comm_errors']],
    ['agent counter restarted: no judgement', {}, [d(100, 5000), d(300, 50)], []],
    ['server counter not maintained: auto uses the bus counter', {}, [d(100, 1000, { server_message_count: 0 }), d(400, 1050, { server_message_count: 0 })], ['R@1:foreign_master']],
    ['exception answers nobody asked for: a scan', {}, [d(0, 0, { agent_exception_answers_total: 0 }), d(50, 50, { bus_exception_error_count: 5, agent_exception_answers_total: 0 }), d(100, 100, { bus_exception_error_count: 5, agent_exception_answers_total: 0 }), d(150, 150, { bus_exception_error_count: 5, agent_exception_answers_total: 0 })], ['R@1:foreign_exceptions', 'C@3:foreign_exceptions']],
    ['exceptions the agent got itself', {}, [d(0, 0, { agent_exception_answers_total: 3 }), d(50, 50, { bus_exception_error_count: 2, agent_exception_answers_total: 5 })], []],
    ['without agent requests nothing is compared', {}, [{ bus_message_count: 1 }, { bus_message_count: 900 }], []],
  ];
  it.each(cases)('%s', (_n, p, facts, want) => {
    expect(marks(run(p, facts))).toEqual(want);
  });

  it('explains a foreign master', () => {
    const [f] = run({}, [d(100, 1000), d(300, 1050)]);
    expect(f.message).toBe('tank1 received 150 more messages than the agent sent (server_message_count +200, agent +50): another master is talking to it');
    expect(f).toMatchObject({ category: 'anomaly', severity: 'high', evidence: { foreign_messages: 150, agent_requests: 50, interval_ms: 1000 } });
  });

  it.each([
    [10, 20, 1000, 10, false],
    [65530, 4, 1000, 10, false],
    [30000, 5, 1000, 5, true],
    [0, 0, 1000, 0, false],
  ])('counterDelta(%i, %i)', (prev, cur, plausible, delta, reset) => {
    expect(counterDelta(prev, cur, plausible)).toEqual({ delta, reset });
  });
});
