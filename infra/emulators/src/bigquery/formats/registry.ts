// Which writer and reader handle each file format.
import { readAvroFiles, writeAvroFile } from './avro.js';
import { writeCsvFile } from './csv-export.js';
import { readCsvFiles } from './csv-load.js';
import { writeJsonFile } from './json-export.js';
import { readJsonFiles } from './json-load.js';
import { writeParquetFile } from './parquet-export.js';
import { readParquetFiles } from './parquet-load.js';
import type { FileFormat, FileReader, FileWriter } from './types.js';

const WRITERS: Record<FileFormat, FileWriter> = {
  CSV: writeCsvFile,
  NEWLINE_DELIMITED_JSON: writeJsonFile,
  AVRO: writeAvroFile,
  PARQUET: writeParquetFile,
};

const READERS: Record<FileFormat, FileReader> = {
  CSV: readCsvFiles,
  NEWLINE_DELIMITED_JSON: readJsonFiles,
  AVRO: readAvroFiles,
  PARQUET: readParquetFiles,
};

export const writerFor = (format: FileFormat): FileWriter => WRITERS[format];
export const readerFor = (format: FileFormat): FileReader => READERS[format];
