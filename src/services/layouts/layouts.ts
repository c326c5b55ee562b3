import type { ArchiveLocation } from '../../ports/archive-index.js';
import type { ArchiveLayout, LayoutName } from './archive-layout.js';
import type { RecordLayout } from './record-layout.js';
import type { SegmentLayout } from './segment-layout.js';

/**
 * Every layout an entry may point into (an archive written under one layout is still read after
 * the configuration moves to another), and the one new runs write with. A new layout is one file
 * and one field here.
 */
export class Layouts {
  readonly all: readonly ArchiveLayout[];

  constructor(
    readonly record: RecordLayout,
    readonly segment: SegmentLayout,
    private readonly writingName: LayoutName,
  ) {
    this.all = [record, segment];
  }

  /** The layout new runs write with. */
  get writing(): ArchiveLayout {
    return this.named(this.writingName);
  }

  /** The layout that wrote `location`. */
  of(location: ArchiveLocation): ArchiveLayout {
    return this.named(location.layout);
  }

  private named(name: LayoutName): ArchiveLayout {
    const layout = this.all.find((candidate) => candidate.name === name);
    if (!layout) throw new Error(`no layout named '${name}' is registered`);
    return layout;
  }
}
