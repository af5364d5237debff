// Which writer and reader handle each file format.
import type { FileFormat, FileReader, FileWriter } from './types.js';

export function writerFor(format: FileFormat): FileWriter {
  throw new Error(`no writer for ${format} yet`);
}

export function readerFor(format: FileFormat): FileReader {
  throw new Error(`no reader for ${format} yet`);
}
