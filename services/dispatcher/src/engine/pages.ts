// Paging: plans are walked a page at a time so that an operation of any size runs in bounded memory.

/** Groups items into pages of `size`. */
export async function* pages<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const item of items) {
    page.push(item);
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}
