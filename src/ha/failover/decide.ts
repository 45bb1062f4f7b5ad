// The failover decision: a pure function from what this node sees (heartbeats on the two links, the
// ping node, the peer's last advert, its own volumes) to what it should do. It follows PRODUCT.md's
// three cases:
//   1. trouble on the data link: the active node asks the heartbeat (auxiliary) link whether the
//      passive node is usable and whether it is its own data link that went down;
//   2. the active node is silent on the auxiliary link: the passive node asks the data link and the
//      ping node whether the active node is still there;
//   3. the passive node is silent on the auxiliary link: the active node asks the data link and the
//      ping node whether it is still the one that should serve.
// Safety first: a node takes over only with up-to-date volumes, only when the ping node answers it,
// and only when the peer is silent on both links or hands over explicitly; an active node that hears
// neither the peer nor the ping node stops serving. The executor (executor.ts) carries decisions out.

export type FailoverRole = 'active' | 'passive';

/** What the peer said about itself in its last heartbeat. */
export interface PeerAdvert {
  /** `stopped`: failover is not running on the peer (its manager was stopped). */
  readonly role: FailoverRole | 'stopped';
  /** Every failover volume on the peer is up to date. */
  readonly upToDate: boolean;
  /** The ping node answers the peer. */
  readonly ping: boolean;
  readonly term: number;
  /** The peer released the service for this node to take it (manual failover, or its data link failed). */
  readonly offer: boolean;
}

export interface Observation {
  /** A valid heartbeat arrived on the auxiliary link within the dead time. */
  readonly aux: boolean;
  /** A valid heartbeat arrived on the data link within the dead time. */
  readonly data: boolean;
  /** The ping node answered this node within the dead time. */
  readonly ping: boolean;
  /** The peer's last advert since this node started; null: never heard. */
  readonly peer: PeerAdvert | null;
}

export interface SelfState {
  readonly role: FailoverRole;
  /** Every failover volume here is up to date. */
  readonly upToDate: boolean;
  readonly term: number;
  readonly nodeName: string;
  readonly peerName: string;
}

export type Action =
  | 'stay'
  /** Promote the volumes, bring up the virtual IP, serve. */
  | 'take-over'
  /** Stop serving without offering: this node cannot confirm it should serve. */
  | 'release'
  /** Stop serving and offer the service to the peer, which takes it. */
  | 'hand-over';

export interface Decision {
  readonly action: Action;
  /** Why, in words for the log and the status. */
  readonly reason: string;
  /** Conditions an administrator should see (a link down, the ping node silent ...). */
  readonly alarms: readonly string[];
}

export function decide(self: SelfState, seen: Observation): Decision {
  return self.role === 'active' ? decideActive(self, seen) : decidePassive(self, seen);
}

function decideActive(self: SelfState, seen: Observation): Decision {
  const { aux, data, ping, peer } = seen;
  const heard = aux || data;
  const alarms = linkAlarms(seen);
  if (heard && peer?.role === 'active') {
    if (outranks(peer.term, self.peerName, self.term, self.nodeName)) {
      return {
        action: 'release',
        reason: `${self.peerName} is active with a newer term: stepping down`,
        alarms,
      };
    }
    return {
      action: 'stay',
      reason: `${self.peerName} also claims the active role with an older term`,
      alarms,
    };
  }
  if (aux && data) return { action: 'stay', reason: 'both links up', alarms };
  if (aux && !data) {
    // Case 1: the heartbeat link tells whether the data link failed here and the peer can serve.
    if (!ping) {
      if (peer?.role === 'passive' && peer.ping && peer.upToDate) {
        return {
          action: 'hand-over',
          reason: `the data link is down here (no heartbeat, no ping node) and ${self.peerName} reaches the ping node: handing over`,
          alarms,
        };
      }
      return {
        action: 'stay',
        reason: `the data link looks down here, but ${self.peerName} cannot take over (${whyPeerCannot(peer)})`,
        alarms,
      };
    }
    return {
      action: 'stay',
      reason: `the ping node answers here: the data link trouble is on ${self.peerName}'s side`,
      alarms,
    };
  }
  if (!aux && data) {
    return { action: 'stay', reason: `${self.peerName} still answers on the data link`, alarms };
  }
  // Case 3: the peer is silent on both links; the ping node says whether this node is the isolated one.
  if (ping)
    return { action: 'stay', reason: `${self.peerName} is silent on both links: serving alone`, alarms };
  return {
    action: 'release',
    reason: 'isolated: no heartbeat on either link and no answer from the ping node: stop serving',
    alarms,
  };
}

function decidePassive(self: SelfState, seen: Observation): Decision {
  const { aux, data, ping, peer } = seen;
  const heard = aux || data;
  const alarms = linkAlarms(seen);
  if (heard) {
    if (peer?.role === 'active') return { action: 'stay', reason: `${self.peerName} is active`, alarms };
    if (peer?.offer) {
      const refusal = takeOverRefusal(self, ping);
      if (refusal !== null)
        return { action: 'stay', reason: `${self.peerName} offers the service, but ${refusal}`, alarms };
      return { action: 'take-over', reason: `${self.peerName} handed the service over`, alarms };
    }
    if (peer?.role === 'passive' && !peer.upToDate) {
      // Nobody serves and the peer is behind (restarted, resyncing): only this node can serve.
      const refusal = takeOverRefusal(self, ping);
      if (refusal === null) {
        return {
          action: 'take-over',
          reason: `${self.peerName} is passive and behind: nobody else can serve`,
          alarms,
        };
      }
    }
    const peerRole = peer?.role ?? 'unknown';
    return {
      action: 'stay',
      reason: `${self.peerName} is ${peerRole} and offers nothing`,
      alarms:
        peerRole === 'passive'
          ? [...alarms, 'no node is active: start failover on the node that should serve']
          : alarms,
    };
  }
  // Case 2: the peer is silent on both links; take over only if it was serving (or offering), this
  // node's data is up to date, and the ping node proves this node is not the isolated one.
  if (peer === null) {
    return { action: 'stay', reason: `${self.peerName} has not been heard since this node started`, alarms };
  }
  if (peer.role !== 'active' && !peer.offer) {
    return {
      action: 'stay',
      reason: `${self.peerName} is silent, and it was ${peer.role}: nothing to take over`,
      alarms,
    };
  }
  const refusal = takeOverRefusal(self, ping);
  if (refusal !== null)
    return { action: 'stay', reason: `${self.peerName} is silent on both links, but ${refusal}`, alarms };
  return {
    action: 'take-over',
    reason: `${self.peerName} is silent on both links and the ping node answers here`,
    alarms,
  };
}

function takeOverRefusal(self: SelfState, ping: boolean): string | null {
  if (!self.upToDate) return 'the volumes here are not up to date: an administrator must decide';
  if (!ping) return 'the ping node does not answer here: this node may be the isolated one';
  return null;
}

function whyPeerCannot(peer: PeerAdvert | null): string {
  if (peer === null) return 'never heard';
  if (peer.role !== 'passive') return `it is ${peer.role}`;
  if (!peer.upToDate) return 'its volumes are not up to date';
  return 'the ping node does not answer it either';
}

function linkAlarms(seen: Observation): string[] {
  const alarms: string[] = [];
  if (!seen.aux) alarms.push('no heartbeat on the auxiliary link');
  if (!seen.data) alarms.push('no heartbeat on the data link');
  if (!seen.ping) alarms.push('the ping node does not answer');
  return alarms;
}

/** Does (term, name) win over (otherTerm, otherName)? Higher term wins; equal terms: the smaller name. */
export function outranks(term: number, name: string, otherTerm: number, otherName: string): boolean {
  if (term !== otherTerm) return term > otherTerm;
  return name < otherName;
}
