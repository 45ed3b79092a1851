#!/usr/bin/env python3
"""Lists every error-raising site of the model-script language (src/script/*.c)
and the CLI (cli/*.c), and says which of them a test expects.

  python3 tests/script_error_sites.py            # summary + the untested sites
  python3 tests/script_error_sites.py --all      # every site with its status
  python3 tests/script_error_sites.py --check    # exit 1 when a site is untested
  python3 tests/script_error_sites.py --by-file  # which test files expect the messages

A site is a call of lms_fail / lms_fail_rt / lms_fail_lib / perr / unexpected /
lm_fail (src/script) or an fprintf(stderr, ...) (cli). Its message is the
format string; a site counts as tested when some string literal in the tests
(tests/*.c, tests/scripts/errors/*.err) matches the
format with its conversions as wildcards, or holds a 16+ character fixed piece
of it, or a 12+ character literal of the tests is part of its fixed text
(tests that check a part of a message with strstr).

Sites whose message is not a literal (lms_fail_lib: the library's message,
"%s" and "lamina predict: %s" passthroughs) are listed as 'passthrough': the library's own tests and
the allocation sweeps cover what they print. Sites listed in COVERED_ELSEWHERE
are reached by tests that check them by other means (the allocation-failure
sweep checks "out of memory" messages; see the comments there)."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLS = re.compile(r'\b(lms_fail_rt|lms_fail_lib|lms_fail|perr|unexpected|lm_fail|fprintf\s*\(\s*stderr)\s*\(?')
STR = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
CONV = re.compile(r'%[-+ #0]*(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|z|j|t|L)?([diouxXeEfgGcsp%])|%"\s*PRI\w+\s*"')


def c_unescape(s):
    return bytes(s, 'utf-8').decode('unicode_escape') if '\\' in s else s


def call_text(src, start):
    """The argument text of the call whose '(' is at or after start."""
    i = src.index('(', start)
    depth, j = 0, i
    instr = False
    while j < len(src):
        ch = src[j]
        if instr:
            if ch == '\\':
                j += 2
                continue
            if ch == '"':
                instr = False
        elif ch == '"':
            instr = True
        elif ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
            if depth == 0:
                return src[i + 1:j]
        j += 1
    return src[i + 1:]


def fmt_of(args):
    """The format: the adjacent string literals of the first literal argument."""
    m = STR.search(args)
    if not m:
        return None
    # join adjacent literals, also those split by PRId64-style macros
    out, pos = [], m.start()
    while True:
        m = re.compile(r'\s*"((?:[^"\\\n]|\\.)*)"').match(args, pos)
        if m:
            out.append(m.group(1))
            pos = m.end()
            continue
        m = re.compile(r'\s*PRI\w+').match(args, pos)
        if m:
            out.append('%d')
            pos = m.end()
            continue
        break
    return c_unescape(''.join(out))


def sites():
    files = sorted(glob.glob(os.path.join(ROOT, 'src/script/*.c'))) + sorted(glob.glob(os.path.join(ROOT, 'cli/*.c')))
    for path in files:
        src = open(path, encoding='utf-8').read()
        for m in CALLS.finditer(src):
            name = m.group(1)
            line = src.count('\n', 0, m.start()) + 1
            linetext = src.splitlines()[line - 1]
            if re.match(r'\s*(static\s+)?_?N?o?r?e?t?u?r?n?\s*(void|_Noreturn)', linetext) and '(' in linetext and name != 'fprintf':
                if re.search(r'\b(void|_Noreturn)\b[^=]*\b' + re.escape(name) + r'\s*\(\s*(P|lms_interp|lm_ctx)\b', linetext):
                    continue  # the definition or prototype
            if name.startswith('fprintf') and 'cli/' not in path:
                continue
            if name == 'lm_fail' and 'src/script' not in path:
                continue
            args = call_text(src, m.start())
            if name == 'unexpected':
                fmts = ['invalid syntax: expected %s, got %s'] if not args.strip().endswith('NULL') else ['invalid syntax: unexpected %s']
            else:
                f = fmt_of(args) if name != 'lms_fail_lib' else None
                fmts = [f]
            kind = name.split('(')[0].strip()
            yield os.path.relpath(path, ROOT), line, kind, fmts[0]


def strip_comments(src):
    """C source without its comments (a message named in a comment is not a test)."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src[i] == '"' or src[i] == "'":
            q, j = src[i], i + 1
            while j < n and src[j] != q:
                j += 2 if src[j] == '\\' else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith('/*', i):
            j = src.find('*/', i + 2)
            i = n if j < 0 else j + 2
            out.append(' ')
        elif src.startswith('//', i):
            j = src.find('\n', i)
            i = n if j < 0 else j
        else:
            out.append(src[i])
            i += 1
    return ''.join(out)


# Sites no input reaches (defensive checks) or that need a failing system;
# each with where that is argued. --check accepts them.
DOCUMENTED = {
    ('src/script/array.c', 'negative dimensions are not allowed'):
        'defensive: every caller of new_tensor passes a checked shape (test_script_oom.c)',
    ('src/script/eval.c', 'cannot assign to this expression'):
        'defensive: the parser accepts only assignable targets (test_script_oom.c)',
    ('src/script/eval.c', 'text buffers nested too deeply'):
        'defensive: at most 3 buffers are open at once (test_script_oom.c)',
    ('src/script/eval.c', 'statement used as an expression'):
        'defensive: the parser builds statements only at statement level (test_script_oom.c)',
    ('src/script/eval.c', 'unsupported statement'):
        'defensive: every statement kind the parser builds is run (test_script_oom.c)',
    ('src/script/eval.c', 'a slice is only valid inside [ ]'):
        'defensive: the parser builds slices only inside subscripts (test_script_oom.c)',
    ('src/script/keras.c', "LambdaCallback: the script's function failed"):
        "internal: the script's own error is reported instead (test_script_oom.c)",
    ('src/script/registry.c', 'Reshape: target_shape holds ints'):
        "defensive: the argument spec 'S' refuses other items first (test_script_oom.c)",
    ('src/script/value.c', 'expected a shape (an int or a tuple of ints), not %s'):
        "defensive: the argument spec 'S' refuses other types first (test_script_oom.c)",
    ('src/script/hp.c', "%s: no option of '%s' matches the trial's '%s'"):
        "defensive: a trial's choice is one of its space's options (test_script_errors.c)",
    ('cli/cmd_run.c', 'lamina: out of memory\n'): 'needs the context allocation to fail (test_cli.c)',
    ('cli/cmd_predict.c', 'lamina predict: too many outputs\n'): 'needs a model of 65+ outputs (test_cli.c)',
    ('cli/cmd_tune.c', 'lamina tune: no complete trial in %s\n'): 'needs a study of failed trials only (test_cli.c)',
    ('cli/cmd_tune.c', 'lamina tune: cannot write %s\n'): 'needs an unwritable --best file (test_cli.c)',
    ('cli/cmd_tune.c', 'lamina tune: fork: %s\n'): 'needs fork to fail (test_cli.c)',
    ('cli/cmd_tune.c', "lamina tune: digits.csv.gz not found; install Debian's python3-sklearn or pass --data FILE\n"):
        'only on a machine without the digits file (test_cli.c)',
}


def test_strings():
    pats = ['tests/*.c']
    out = []
    for pat in pats:
        for path in glob.glob(os.path.join(ROOT, pat)):
            src = strip_comments(open(path, encoding='utf-8').read())
            # join adjacent literals (a message may be split over lines)
            for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', src):
                lits = STR.findall(m.group(0))
                out.append((os.path.basename(path), c_unescape(''.join(lits))))
    for path in glob.glob(os.path.join(ROOT, 'tests/scripts/errors/*.err')):
        out.extend(('scripts/errors', t) for t in open(path, encoding='utf-8').read().splitlines())
    return out


def fixed_pieces(fmt):
    return [p for p in CONV.split(fmt) if p and len(p) >= 16 and not re.fullmatch(r'[-+ #0*\d.hlzjtL]*[diouxXeEfgGcsp%]?', p)]


def to_regex(fmt):
    parts, pos = [], 0
    for m in CONV.finditer(fmt):
        parts.append(re.escape(fmt[pos:m.start()]))
        parts.append('%' if m.group(5) == '%' else '.*?')
        pos = m.end()
    parts.append(re.escape(fmt[pos:]))
    return re.compile(''.join(parts), re.S)


def main():
    show_all = '--all' in sys.argv
    tagged = test_strings()
    tests = [t for _, t in tagged]
    blob = '\n'.join(tests)
    by_file = {}
    rows, counts = [], {}
    for path, line, kind, fmt in sites():
        if fmt is None or re.fullmatch(r'%?[\w ]{0,20}:? ?%s\n?|\s*', fmt):
            status = 'passthrough'
        else:
            rx = to_regex(fmt.rstrip('\n'))
            hit = next((f for f, t in tagged if rx.search(t)), None)
            if hit:
                status = 'tested'
                by_file[hit] = by_file.get(hit, 0) + 1
            elif any(p in blob for p in fixed_pieces(fmt.rstrip('\n'))) or \
                    any(len(t) >= 12 and '%' not in t and t in p for p in CONV.split(fmt) if p for t in tests):
                status = 'tested(part)'
            elif (path, fmt) in DOCUMENTED:
                status = 'documented'
            else:
                status = 'UNTESTED'
        counts[status] = counts.get(status, 0) + 1
        rows.append((status, path, line, kind, fmt))
    for status, path, line, kind, fmt in rows:
        if show_all or status == 'UNTESTED':
            print('%-12s %s:%d %s %r%s' % (status, path, line, kind, fmt,
                                           ('  -- ' + DOCUMENTED[(path, fmt)]) if status == 'documented' else ''))
    print('sites: %d; %s' % (len(rows), ', '.join('%s %d' % kv for kv in sorted(counts.items()))))
    if '--by-file' in sys.argv:
        print('tested, by the first test file that expects the message: ' +
              ', '.join('%s %d' % kv for kv in sorted(by_file.items(), key=lambda kv: -kv[1])))
    if '--check' in sys.argv and counts.get('UNTESTED'):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
