// A source file held in memory with a line index, so offsets map to 1-based row/col and back to line text.

/** A named piece of Rego text with a lazily built line index. */
export class SourceFile {
  readonly name: string;
  readonly text: string;
  private starts: number[] | undefined;

  constructor(name: string, text: string) {
    this.name = name;
    this.text = text;
  }

  /** Offsets at which each line starts (line 1 at index 0). */
  lineStarts(): number[] {
    if (!this.starts) this.starts = computeLineStarts(this.text);
    return this.starts;
  }

  /** Maps a 0-based offset to a 1-based row and column (columns count UTF-16 units, tabs as one). */
  position(offset: number): { row: number; col: number } {
    const starts = this.lineStarts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { row: lo + 1, col: offset - starts[lo] + 1 };
  }

  /** The text of a 1-based line without its line break; '' when out of range. */
  line(row: number): string {
    return lineOf(this.text, row, this.lineStarts());
  }
}

/** Offsets at which each line of text starts. */
export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The text of a 1-based line of text without its line break (and without a trailing \r). */
export function lineOf(text: string, row: number, starts: number[] = computeLineStarts(text)): string {
  if (row < 1 || row > starts.length) return '';
  const begin = starts[row - 1];
  let end = row < starts.length ? starts[row] - 1 : text.length;
  if (end > begin && text.charCodeAt(end - 1) === 13) end--;
  return text.slice(begin, end);
}
