// The console's pages, each rendered from one API answer: sites overview, one site (timeline,
// agents, devices with risk charts, open alerts), alerts, one alert with its response history and
// forms, live signals, central findings.
import { levelLegend, levelStrip, levelTimeline, riskChart } from './charts.js';
import { ago, alertHref, badge, chainBadge, clock, h, identityText, levelBadge, link, sevBadge, siteHref, table, when } from './dom.js';

const agentStatus = (a) => badge(a.status, `status-${a.status}`, { 'data-status': a.status });

export async function renderSites(ctx) {
  const d = await ctx.api('/api/sites');
  if (d.sites.length === 0) return h('section', {}, h('h1', {}, 'Sites'), h('p', { class: 'muted' }, 'No agent has reported yet. Agents appear here when central receives their status, assets or signals.'));
  return h(
    'section',
    {},
    h('h1', {}, 'Sites'),
    levelLegend(),
    h(
      'div',
      { class: 'cards' },
      d.sites.map((st) =>
        h(
          'a',
          { class: `card level-edge-${st.level}`, href: siteHref(st.site), 'data-site': st.site, 'data-level': st.level },
          h('div', { class: 'card-head' }, h('h2', {}, st.site), levelBadge(st.level)),
          h('div', { class: 'big-score' }, String(st.score), h('span', { class: 'muted' }, ' site score')),
          levelStrip(st.timeline, d.now_ms - 24 * 3600_000, d.now_ms),
          h('p', {}, `${st.agents} agent${st.agents === 1 ? '' : 's'} (${st.online} online), ${st.devices} device${st.devices === 1 ? '' : 's'}`),
          h('p', {}, chainBadge(st.chain), ' ', badge(`${st.open_alerts} open alert${st.open_alerts === 1 ? '' : 's'}`, st.open_alerts > 0 ? 'alerts-open' : 'alerts-none')),
        ),
      ),
    ),
    d.unsited_alerts > 0 ? h('p', {}, link('#/alerts', `${d.unsited_alerts} alert(s) about no known agent`), ' (malformed or unknown traffic).') : undefined,
  );
}

export function alertsTable(ctx, alerts, { site = true } = {}) {
  if (alerts.length === 0) return h('p', { class: 'muted', 'data-empty': 'alerts' }, 'No open alerts.');
  const responder = ctx.session.role === 'responder';
  return table(
    'alerts',
    ['When', 'Severity', site ? 'Where' : 'Device', 'Rule / finding', 'Message', 'Response', ''],
    alerts.map((a) => [
      when(a.ts_ms),
      sevBadge(a.severity),
      site ? [a.site ? link(siteHref(a.site), a.site) : 'central', a.agent ? ` / ${a.agent}` : '', a.device ? ` / ${a.device}` : ''] : a.device || a.agent || '',
      a.kind === 'finding' ? badge(a.rule, `finding finding-${a.rule}`, { 'data-code': a.rule }) : a.rule,
      a.message,
      [badge(a.state, `state-${a.state}`), a.assignee ? ` → ${a.assignee}` : ''],
      [link(alertHref(a.id), 'Open'), responder && a.state === 'open' ? h('button', { type: 'button', class: 'small', 'data-action': 'ack', onclick: () => step(ctx, a.id, 'ack') }, 'Acknowledge') : undefined],
    ]),
    (i) => ({ 'data-alert-id': alerts[i].id, 'data-rule': alerts[i].rule, 'data-state': alerts[i].state, 'data-kind': alerts[i].kind }),
  );
}

async function step(ctx, id, action, text) {
  try {
    await ctx.api(`/api/alerts/${encodeURIComponent(id)}/steps`, { method: 'POST', body: { action, text } });
    ctx.refresh();
  } catch (e) {
    alert(`${action}: ${e.message}`);
  }
}

export async function renderSite(ctx, site) {
  const d = await ctx.api(`/api/sites/${encodeURIComponent(site)}`);
  const sm = d.summary;
  return h(
    'section',
    { 'data-site-page': site, 'data-level': sm.level },
    h('div', { class: 'page-head' }, h('h1', {}, site), levelBadge(sm.level), h('span', { class: 'big-score' }, ` score ${sm.score}`), h('span', { class: 'muted' }, ` updated ${ago(sm.updated_ms, d.now_ms)}`)),
    h('h2', {}, 'Warning level'),
    levelLegend(),
    levelTimeline(d.timeline, d.since_ms, d.now_ms),
    h('h2', {}, 'Open alerts'),
    alertsTable(ctx, d.alerts, { site: false }),
    h('h2', {}, 'Agents'),
    table(
      'agents',
      ['Agent', 'Status', 'Chain', 'Signals (seq)', 'Key', 'Version', 'Last seen'],
      d.agents.map((a) => [
        a.agent,
        [agentStatus(a), a.reason ? ` (${a.reason})` : ''],
        chainBadge(a.chain_state),
        `${a.chain_seq} checked of ${a.last_seq}`,
        [a.key_id ? h('code', {}, a.key_id.slice(0, 16)) : 'none', a.key_pending ? badge('new key waiting', 'key-pending') : ''],
        a.version || '',
        ago(a.last_seen_ms, d.now_ms),
      ]),
      (i) => ({ 'data-agent': d.agents[i].agent, 'data-chain': d.agents[i].chain_state }),
    ),
    h('h2', {}, 'Devices'),
    d.devices.length === 0
      ? h('p', { class: 'muted' }, 'No assets reported yet.')
      : table(
          'devices',
          ['Device', 'Agent', 'Identity', 'Link', 'Risk', 'Open alerts', 'Risk over time'],
          d.devices.map((v) => [
            [h('strong', {}, v.id), h('div', { class: 'muted' }, `${v.protocol || ''} ${v.address || ''}`)],
            v.agent,
            identityText(v.identity),
            badge(v.link?.state || 'unknown', `link-${v.link?.state || 'unknown'}`),
            h('span', { class: 'risk-num', 'data-risk': v.risk_score }, String(v.risk_score)),
            String(v.open_alerts),
            riskChart(v.series, d.since_ms, d.now_ms),
          ]),
          (i) => ({ 'data-device': d.devices[i].id }),
        ),
  );
}

export async function renderAlerts(ctx) {
  const d = await ctx.api('/api/alerts');
  return h('section', {}, h('h1', {}, 'Open alerts'), h('p', { class: 'muted' }, 'Raised signals the agent has not cleared, and central\'s own findings, until a responder resolves them.'), alertsTable(ctx, d.alerts));
}

export async function renderAlert(ctx, id) {
  const a = await ctx.api(`/api/alerts/${encodeURIComponent(id)}`);
  const responder = ctx.session.role === 'responder' && a.state !== 'resolved';
  const form = (label, action, multi, placeholder) => {
    const input = multi ? h('textarea', { rows: 2, placeholder, 'data-input': action }) : h('input', { placeholder, 'data-input': action });
    return h('form', { class: 'step', onsubmit: (ev) => (ev.preventDefault(), step(ctx, a.id, action, input.value)) }, input, h('button', { type: 'submit', 'data-action': action }, label));
  };
  return h(
    'section',
    { 'data-alert-page': a.id, 'data-state': a.state },
    h('div', { class: 'page-head' }, h('h1', {}, a.kind === 'finding' ? `Central finding: ${a.rule}` : `Alert: ${a.rule}`), sevBadge(a.severity), badge(a.state, `state-${a.state}`, { 'data-alert-state': a.state })),
    h('p', { class: 'message' }, a.message),
    h('dl', { class: 'facts' }, [
      ['Where', [a.site ? link(siteHref(a.site), a.site) : 'central', a.agent ? ` / ${a.agent}` : '', a.device ? ` / ${a.device}` : '', a.tag ? ` / ${a.tag}` : '']],
      ['When', when(a.ts_ms)],
      a.kind === 'signal' ? ['At the agent', a.raised ? 'still raised' : 'cleared by the agent'] : undefined,
      a.score !== undefined ? ['Device risk', String(a.score)] : undefined,
      a.assignee ? ['Assigned to', a.assignee] : undefined,
      a.summary ? ['Resolution', a.summary] : undefined,
    ].filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    responder
      ? h('div', { class: 'steps' },
          a.state === 'open' ? h('button', { type: 'button', 'data-action': 'ack', onclick: () => step(ctx, a.id, 'ack') }, 'Acknowledge') : undefined,
          form('Assign', 'assign', false, 'assign to (name)'),
          form('Add note', 'annotate', true, 'note'),
          form('Resolve', 'resolve', true, 'summary: what it was, what was done'))
      : a.state === 'resolved' ? undefined : h('p', { class: 'muted' }, 'Read-only role: responders acknowledge, assign, annotate and resolve.'),
    h('h2', {}, 'History'),
    a.history.length === 0
      ? h('p', { class: 'muted' }, 'No response yet.')
      : h('ol', { class: 'history' }, a.history.map((r) => h('li', { 'data-step': r.action }, h('strong', {}, { ack: 'acknowledged', assign: 'assigned', annotate: 'note', resolve: 'resolved' }[r.action]), ` by ${r.by}, ${when(r.ts_ms)}`, r.text ? h('div', { class: 'step-text' }, r.text) : ''))),
    h('details', {}, h('summary', {}, 'Record as stored'), h('pre', {}, JSON.stringify(a.record, null, 2))),
  );
}

export function signalRow(g, fresh = false) {
  return h(
    'tr',
    { class: fresh ? 'fresh' : undefined, 'data-signal-id': g.id, 'data-rule': g.rule },
    [clock(Date.parse(g.ts) || g.received_ms), [g.site, ' / ', g.agent], g.device || '', g.rule, sevBadge(g.severity), badge(g.state, `state-${g.state}`), String(g.score), badge(g.verdict, `verdict-${g.verdict}`), g.message].map((c) => h('td', {}, c)),
  );
}

export async function renderSignals(ctx) {
  const d = await ctx.api('/api/signals?limit=200');
  return h(
    'section',
    {},
    h('h1', {}, 'Signals'),
    h('p', { class: 'muted' }, 'Verified signals as central stores them, newest first; new ones appear live. Refused signals become central findings.'),
    h('table', { class: 'signals' }, h('thead', {}, h('tr', {}, ['Time', 'Where', 'Device', 'Rule', 'Severity', 'State', 'Score', 'Verdict', 'Message'].map((c) => h('th', {}, c)))), h('tbody', {}, d.signals.map((g) => signalRow(g)))),
  );
}

export async function renderFindings(ctx) {
  const d = await ctx.api('/api/findings?limit=300');
  return h(
    'section',
    {},
    h('h1', {}, 'Central findings'),
    h('p', { class: 'muted' }, 'What central itself found in the traffic: forged or edited signals, bad signatures, replays, gaps in a chain, stalled or offline agents, key changes, malformed payloads.'),
    d.findings.length === 0
      ? h('p', { class: 'muted' }, 'No findings.')
      : table(
          'findings',
          ['When', 'Finding', 'Severity', 'Where', 'Seq', 'Message', ''],
          d.findings.map((f) => [when(f.ts_ms), badge(f.code, `finding finding-${f.code}`, { 'data-code': f.code }), sevBadge(f.severity), f.site ? [link(siteHref(f.site), f.site), f.agent ? ` / ${f.agent}` : ''] : 'central', f.seq ?? '', f.message, link(alertHref(`finding:${f.id}`), 'Respond')]),
          (i) => ({ 'data-finding-id': d.findings[i].id, 'data-code': d.findings[i].code }),
        ),
  );
}
