import type { ArchiveLocation } from '../../ports/archive-index.js';

/** The columns of a location, in a table's definition. */
export const LOCATION_COLUMNS = `layout TEXT NOT NULL, blob TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  line_offset INTEGER, line_length INTEGER`;

/** An archive location as the index and garbage tables keep it: flat columns, a line only in segments. */
export interface LocationColumns {
  layout: string;
  blob: string;
  offset: number;
  length: number;
  line_offset: number | null;
  line_length: number | null;
}

export function locationOf(row: LocationColumns): ArchiveLocation {
  const { blob, offset, length } = row;
  if (row.layout === 'record') return { layout: 'record', blob, offset, length };
  if (row.layout === 'segment' && row.line_offset !== null && row.line_length !== null)
    return {
      layout: 'segment',
      blob,
      offset,
      length,
      line: { offset: row.line_offset, length: row.line_length },
    };
  throw new Error(`unreadable archive location (layout '${row.layout}') in the index`);
}

export function locationColumns(location: ArchiveLocation): LocationColumns {
  return {
    layout: location.layout,
    blob: location.blob,
    offset: location.offset,
    length: location.length,
    line_offset: location.layout === 'segment' ? location.line.offset : null,
    line_length: location.layout === 'segment' ? location.line.length : null,
  };
}
