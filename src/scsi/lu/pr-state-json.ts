// PR state as JSON, for stores: reservation keys are 64-bit, so they travel as hex strings.
import { EMPTY_PR_STATE, isPrType, type PrRegistration, type PrState } from './pr-state.js';

interface RegistrationJson {
  key: string;
  initiatorPort: string;
  targetPort?: string;
  relativeTargetPort: number;
}

interface PrStateJson {
  generation: number;
  aptpl: boolean;
  registrations: RegistrationJson[];
  reservation?: {
    type: number;
    holder: { initiatorPort: string; targetPort?: string; relativeTargetPort: number };
  };
}

export function prStateToJson(state: PrState): string {
  const json: PrStateJson = {
    generation: state.generation,
    aptpl: state.aptpl,
    registrations: state.registrations.map((r) => ({ ...r, key: r.key.toString(16) })),
    ...(state.reservation
      ? { reservation: { type: state.reservation.type, holder: { ...state.reservation.holder } } }
      : {}),
  };
  return JSON.stringify(json);
}

/** Parses stored state; anything unreadable yields the empty state rather than a crash. */
export function prStateFromJson(text: string): PrState {
  try {
    const json = JSON.parse(text) as PrStateJson;
    const registrations: PrRegistration[] = json.registrations.map((r) => ({
      initiatorPort: r.initiatorPort,
      ...(r.targetPort === undefined ? {} : { targetPort: r.targetPort }),
      relativeTargetPort: r.relativeTargetPort,
      key: BigInt(`0x${r.key}`),
    }));
    const reservation =
      json.reservation && isPrType(json.reservation.type)
        ? { type: json.reservation.type, holder: json.reservation.holder }
        : undefined;
    return {
      generation: json.generation >>> 0,
      aptpl: json.aptpl,
      registrations,
      ...(reservation ? { reservation } : {}),
    };
  } catch {
    return EMPTY_PR_STATE;
  }
}
