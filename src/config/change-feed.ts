// Tells the parts of a running node that follow configuration (the iSCSI portal, metrics, live
// status feeds) that something changed, after the change is committed to the store.
import { EventEmitter } from 'node:events';

export interface ChangeEvents {
  pools: [];
  volumes: [{ readonly volume: string; readonly action: 'created' | 'updated' | 'expanded' | 'deleted' }];
  targets: [{ readonly iqn: string; readonly action: 'created' | 'updated' | 'deleted' }];
}

export class ChangeFeed extends EventEmitter<ChangeEvents> {}
