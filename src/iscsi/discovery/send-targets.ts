// SendTargets (RFC 7143 §12.3 and Appendix C): the answer to a Text Request in a discovery session
// (or in a normal session, about its own target). Pure: the caller passes what the initiator may see.
import type { TextPair } from '../text/key-value.js';

export interface DiscoverableTarget {
  readonly iqn: string;
  /** Empty: every initiator may see it. */
  readonly allowedInitiators: readonly string[];
}

export interface PortalAddress {
  readonly host: string;
  readonly port: number;
  readonly portalGroupTag: number;
}

export function formatTargetAddress({ host, port, portalGroupTag }: PortalAddress): string {
  const literal = host.includes(':') ? `[${host}]` : host;
  return `${literal}:${port},${portalGroupTag}`;
}

/**
 * `value` is what the initiator asked: `All` (discovery sessions only), a target name, or empty for
 * the session's own target. Targets the initiator is not allowed to log in to are never listed.
 */
export function sendTargets(
  value: string,
  context: {
    readonly sessionType: 'Normal' | 'Discovery';
    readonly initiatorName: string;
    readonly sessionTarget: string | undefined;
    readonly targets: readonly DiscoverableTarget[];
    readonly portals: readonly PortalAddress[];
  },
): TextPair[] {
  const visible = context.targets.filter(
    (t) => t.allowedInitiators.length === 0 || t.allowedInitiators.includes(context.initiatorName),
  );
  let chosen: DiscoverableTarget[];
  if (value === 'All') {
    chosen =
      context.sessionType === 'Discovery' ? visible : visible.filter((t) => t.iqn === context.sessionTarget);
  } else if (value === '') {
    chosen = visible.filter((t) => t.iqn === context.sessionTarget);
  } else {
    chosen = visible.filter((t) => t.iqn === value.toLowerCase());
  }
  const pairs: TextPair[] = [];
  for (const target of [...chosen].sort((a, b) => a.iqn.localeCompare(b.iqn))) {
    pairs.push({ key: 'TargetName', value: target.iqn });
    for (const portal of context.portals)
      pairs.push({ key: 'TargetAddress', value: formatTargetAddress(portal) });
  }
  return pairs;
}
