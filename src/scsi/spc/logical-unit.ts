// The plain description of a logical unit that every SPC/SBC data-in builder reads. The caller (the
// LU layer) owns it and passes the current values; builders never keep or change it. Invariants the
// caller keeps: blockSize is a power of two ≥ 512, blockCount ≥ 1, strings are printable ASCII.

export interface BlockLimits {
  /** MAXIMUM TRANSFER LENGTH, blocks (0: no limit reported). */
  readonly maxTransferLength: number;
  /** OPTIMAL TRANSFER LENGTH GRANULARITY, blocks. */
  readonly optimalTransferLengthGranularity: number;
  /** OPTIMAL TRANSFER LENGTH, blocks (0: not reported). */
  readonly optimalTransferLength: number;
  /** MAXIMUM UNMAP LBA COUNT and MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (reported only when thin). */
  readonly maxUnmapLbaCount: number;
  readonly maxUnmapBlockDescriptorCount: number;
  /** OPTIMAL UNMAP GRANULARITY, blocks. */
  readonly optimalUnmapGranularity: number;
  /** MAXIMUM WRITE SAME LENGTH, blocks (0: no limit reported). */
  readonly maxWriteSameLength: number;
  /** MAXIMUM COMPARE AND WRITE LENGTH, blocks (1..255). */
  readonly maxCompareAndWriteLength: number;
}

export interface LogicalUnitInfo {
  /** T10 VENDOR IDENTIFICATION, up to 8 characters ("TANDEM"). */
  readonly vendor: string;
  /** PRODUCT IDENTIFICATION, up to 16 characters. */
  readonly product: string;
  /** PRODUCT REVISION LEVEL, up to 4 characters. */
  readonly revision: string;
  /** Unit serial number (VPD page 0x80), also the vendor-specific part of the T10 vendor ID designator. */
  readonly serial: string;
  /** NAA designator as hex digits: 16 (NAA 2h/3h/5h) or 32 (NAA 6h), as targets/identity.ts validates. */
  readonly naa: string;
  /** SCSI target name, e.g. "iqn.2026-11.local.tandem:vol1". */
  readonly targetName: string;
  /** iSCSI target port name (RFC 7143 §4.2.7.4 / SPC-4 §7.8.6.11): "<target name>,t,0x<TPGT in 4 hex>". */
  readonly targetPortName: string;
  /** RELATIVE TARGET PORT IDENTIFIER, 1..65535. */
  readonly relativeTargetPort: number;
  readonly blockSize: number;
  readonly blockCount: bigint;
  /** Physical block size in bytes when larger than blockSize (512-byte blocks on 4 KiB), for LBPPBE. */
  readonly physicalBlockSize?: number;
  readonly thinProvisioned: boolean;
  readonly writeProtected: boolean;
  /** WCE in the caching mode page: acknowledged writes may sit in a volatile cache until SYNCHRONIZE CACHE. */
  readonly writeCacheEnabled: boolean;
  readonly limits?: Partial<BlockLimits>;
}

const MIB = 1024 * 1024;

/** The limits a file-backed LU reports unless told otherwise. libiscsi's iscsi-test-cu accepts
 * UNMAP limits up to 1 Mi blocks, and checks they are zero when UNMAP is not supported. */
export function blockLimits(lu: LogicalUnitInfo): BlockLimits {
  const pageBlocks = lu.blockSize < 4096 ? 4096 / lu.blockSize : 1;
  const defaults: BlockLimits = {
    maxTransferLength: (8 * MIB) / lu.blockSize,
    optimalTransferLengthGranularity: Math.max(pageBlocks, physicalPerLogical(lu)),
    optimalTransferLength: 0,
    maxUnmapLbaCount: MIB,
    maxUnmapBlockDescriptorCount: 256,
    optimalUnmapGranularity: pageBlocks,
    maxWriteSameLength: (32 * MIB) / lu.blockSize,
    maxCompareAndWriteLength: 1,
  };
  return { ...defaults, ...lu.limits };
}

/** Logical blocks per physical block (a power of two, 1 when physicalBlockSize is unset). */
export function physicalPerLogical(lu: LogicalUnitInfo): number {
  const physical = lu.physicalBlockSize ?? lu.blockSize;
  return physical > lu.blockSize ? physical / lu.blockSize : 1;
}

/** Fixed-width ASCII field, left-aligned and space-padded (SPC-4 §4.4.1). */
export function asciiField(text: string, width: number): Buffer {
  const out = Buffer.alloc(width, 0x20);
  out.write(text.slice(0, width), 'ascii');
  return out;
}

/** Truncates data-in to the allocation length (SPC-4 §4.2.5.6): the device server transfers the
 * lesser of the allocation length and the data it has; length fields inside are never altered. */
export function truncateToAllocation(data: Buffer, allocationLength: number): Buffer {
  return data.length <= allocationLength ? data : data.subarray(0, allocationLength);
}
