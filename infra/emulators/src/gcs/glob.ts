import { invalid } from './errors.js';

const REGEXP_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

/**
 * Translates a `matchGlob` pattern (GCS glob syntax) to an anchored RegExp:
 * `*` matches within one path segment, `**` across segments (`**` + `/` also matches no segment),
 * `?` one character other than `/`, `[abc]`/`[a-z]`/`[!a]` a character class, `{a,b}` alternatives.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    switch (c) {
      case '*':
        if (glob[i + 1] === '*') {
          i++;
          if (glob[i + 1] === '/') {
            i++;
            out += '(?:.*/)?';
          } else {
            out += '.*';
          }
        } else {
          out += '[^/]*';
        }
        break;
      case '?':
        out += '[^/]';
        break;
      case '[': {
        // A `]` right after `[` (or `[!`) is a literal member of the class.
        let start = i + 1;
        const negated = glob[start] === '!' || glob[start] === '^';
        if (negated) start++;
        const close = glob.indexOf(']', start + 1);
        if (close < 0) throw invalid(`Invalid matchGlob: unterminated character class in '${glob}'`);
        const members = glob.slice(start, close).replace(/[\\\]^]/g, '\\$&');
        out += `[${negated ? '^' : ''}${members}]`;
        i = close;
        break;
      }
      case '{':
        braceDepth++;
        out += '(?:';
        break;
      case ',':
        out += braceDepth > 0 ? '|' : ',';
        break;
      case '}':
        if (braceDepth === 0) throw invalid(`Invalid matchGlob: unbalanced '}' in '${glob}'`);
        braceDepth--;
        out += ')';
        break;
      case '\\': {
        const next = glob[++i];
        if (next === undefined) throw invalid(`Invalid matchGlob: trailing escape in '${glob}'`);
        out += next.replace(REGEXP_SPECIAL, '\\$&');
        break;
      }
      default:
        out += c.replace(REGEXP_SPECIAL, '\\$&');
    }
  }
  if (braceDepth > 0) throw invalid(`Invalid matchGlob: unbalanced '{' in '${glob}'`);
  return new RegExp(`^${out}$`, 's');
}
