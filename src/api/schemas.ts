// Request schemas shared by the route plugins. Every body is closed (no unknown fields), so a typo in
// a field name is an error instead of a silently ignored request.
import { Type } from 'typebox';
import { parseSize } from '../lib/size.js';

/** A size as bytes (integer) or with a unit ("512MiB", "10G"). */
export const Size = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: 32 })], {
  description: 'bytes, or a number with a unit: 512MiB, 10G, 1.5TiB',
});

export const toBytes = (size: number | string): number => (typeof size === 'number' ? size : parseSize(size));

export const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'letters, digits, "_", "-", "."',
});

export const ForceQuery = Type.Object(
  { force: Type.Optional(Type.Boolean({ description: 'delete even while in use' })) },
  { additionalProperties: false },
);
