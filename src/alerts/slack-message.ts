/**
 * One group notification as a Slack Block Kit message: a header, then per alert the edge
 * (source → destination:port/proto), counts, first/last seen, the policy and its attribution
 * level, the suggested fix when there is one, and a link to the API. Within Slack's limits
 * (header 150 chars, section text 3000, 50 blocks); user data is escaped (& < >).
 */
import type { AlertRecord } from './alert-lifecycle.js';
import type { Notification } from './notification-groups.js';
import { edgeText } from './rule-conditions.js';

export interface SlackBlock {
  type: string;
  [key: string]: unknown;
}

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Alerts shown in full per message; the rest are counted in one line (50-block limit). */
export const MAX_ALERTS_PER_MESSAGE = 10;

export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } };
}

function alertBlocks(a: AlertRecord, resolved: boolean, fix: string | undefined, link: string): SlackBlock[] {
  const l = a.labels;
  const what = a.edge ? `\`${escapeSlack(edgeText(a.edge))}\`` : escapeSlack(a.annotations.summary ?? l.alertname);
  const policy = l.policy ? `\`${escapeSlack(l.policy)}\`` : '_none reported_';
  const level = a.annotations.attribution_level ? ` (${escapeSlack(a.annotations.attribution_level)})` : '';
  const lines = [
    `${resolved ? ':white_check_mark:' : ':no_entry:'} *${escapeSlack(l.alertname)}* ${what}`,
    a.edge ? `*Policy:* ${policy}${level}` : `*Rule:* ${escapeSlack(l.rule)}`,
    `*Drops:* ${a.count} in the rule window  ·  *First seen:* ${iso(a.activeAt)}  ·  *Last seen:* ${iso(a.lastSeen)}` +
      (resolved ? `  ·  *Resolved:* ${iso(a.resolvedAt)}` : ''),
  ];
  const blocks: SlackBlock[] = [section(lines.join('\n'))];
  if (fix && !resolved) blocks.push(section(`*Suggested fix:*\n\`\`\`${clip(escapeSlack(fix), 2900)}\`\`\``));
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: clip(
          `<${link}|Alert ${a.fingerprint} in the Dropscope API>  ·  severity ${escapeSlack(l.severity ?? '')}`,
          3000,
        ),
      },
    ],
  });
  return blocks;
}

/**
 * `fixes`: the suggested policy YAML per alert fingerprint (when the suggestion module had an
 * inventory); `apiBase`: the external URL of the API (links).
 */
export function slackMessage(n: Notification, fixes: ReadonlyMap<string, string>, apiBase: string): SlackMessage {
  const status = n.firing.length > 0 ? 'FIRING' : 'RESOLVED';
  const count = n.firing.length > 0 ? n.firing.length : n.resolved.length;
  const groupText = Object.entries(n.groupLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const header = clip(`${status}: ${count} alert${count === 1 ? '' : 's'}${groupText ? ` · ${groupText}` : ''}`, 150);
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: header } }];
  const link = (a: AlertRecord) => `${apiBase.replace(/\/$/, '')}/api/v1/alerts?fingerprint=${a.fingerprint}`;
  const shown = [...n.firing.map((a) => ({ a, resolved: false })), ...n.resolved.map((a) => ({ a, resolved: true }))];
  for (const { a, resolved } of shown.slice(0, MAX_ALERTS_PER_MESSAGE)) {
    blocks.push({ type: 'divider' });
    blocks.push(...alertBlocks(a, resolved, fixes.get(a.fingerprint), link(a)));
  }
  if (shown.length > MAX_ALERTS_PER_MESSAGE)
    blocks.push(
      section(`…and ${shown.length - MAX_ALERTS_PER_MESSAGE} more: ${apiBase.replace(/\/$/, '')}/api/v1/alerts`),
    );
  const first = shown[0]?.a;
  const text = clip(
    `${status}: ${first?.annotations.summary ?? header}${shown.length > 1 ? ` (+${shown.length - 1} more)` : ''}`,
    3000,
  );
  return { text, blocks };
}
