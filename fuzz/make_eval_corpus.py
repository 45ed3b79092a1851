#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_eval.c (fuzz/corpus/eval/): the example scripts, the
error corpus, the parser corpus, and every script of the error table in
tests/test_script_errors.c and the allocation sweep in tests/test_script_oom.c, and
the string formatting table tests/fixtures/format/format_table.tsv.
Data sets are replaced by small random arrays (the sandbox refuses files).
  python3 fuzz/make_eval_corpus.py"""
import glob
import hashlib
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'fuzz/corpus/eval')

SMALL = ("import numpy as np\n"
         "(x_train, y_train), (x_test, y_test) = (np.random.randint(0, 255, (64, 28, 28)), "
         "np.random.randint(0, 10, (64,))), (np.random.randint(0, 255, (16, 28, 28)), np.random.randint(0, 10, (16,)))\n")


def c_strings(expr):
    """The concatenated value of C string literals (and macros) in expr."""
    macros = {
        'NP': 'import numpy as np\n',
        'K': 'import numpy as np\nimport keras\nfrom keras import layers\n',
    }
    macros['M'] = macros['K'] + "m = keras.models.Sequential([layers.Dense(2, input_shape=(3,))])\n"
    macros['MC'] = macros['M'] + ("m.compile(optimizer='sgd', loss='mse')\nx = np.zeros((4, 3))\n"
                                  "y = np.zeros((4, 2))\n")
    out = []
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"|\b(NP|K|MC|M)\b', expr):
        if m.group(1) is not None:
            out.append(bytes(m.group(1), 'utf-8').decode('unicode_escape'))
        else:
            out.append(macros[m.group(2)])
    return ''.join(out)


def shrink(src):
    """Sample counts of 100 and more down to 16 (the sandbox holds arrays of at
    most 65,536 values; small data keeps each input fast)."""
    src = re.sub(r'\b(np\.(?:random\.\w+|zeros|ones)\(\s*\(\s*)(\d{3,})\b', lambda m: m.group(1) + '16', src)
    src = re.sub(r'\b(size\s*=\s*\(\s*)(\d{3,})\b', lambda m: m.group(1) + '16', src)
    return re.sub(r'^(num_samples\s*=\s*)\d{3,}', lambda m: m.group(1) + '16', src, flags=re.M)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'examples/*.py'))):
        src = open(path, encoding='utf-8').read()
        src = re.sub(r'^.*=\s*(keras\.datasets\.)?(fashion_)?mnist\.load_data\(\)\s*$', SMALL.rstrip('\n'), src, flags=re.M)
        seeds.append(shrink(src))
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests/scripts/errors/*.py')) +
                       glob.glob(os.path.join(ROOT, 'fuzz/corpus/parser/*'))):
        seeds.append(shrink(open(path, encoding='utf-8', errors='replace').read()))
    errs = open(os.path.join(ROOT, 'tests/test_script_errors.c'), encoding='utf-8').read()
    table = errs[errs.index('cases[] = {'):errs.index('};', errs.index('cases[] = {'))]
    for m in re.finditer(r'\{((?:NP|K|MC|M|""|"(?:[^"\\\n]|\\.)*")(?:\s*"(?:[^"\\\n]|\\.)*")*),\s*((?:"(?:[^"\\\n]|\\.)*"\s*)+),\s*[12],', table):
        seeds.append(c_strings(m.group(1)) + c_strings(m.group(2)))
    oom = open(os.path.join(ROOT, 'tests/test_script_oom.c'), encoding='utf-8').read()
    for m in re.finditer(r'\{"[^"]*",\s*((?:"(?:[^"\\\n]|\\.)*"\s*)+),\s*\d+\}', oom):
        seeds.append(c_strings(m.group(1)))
    # string formatting: one script per 40 rows of the CPython table
    table = os.path.join(ROOT, 'tests/fixtures/format/format_table.tsv')
    rows = open(table, encoding='utf-8').read().splitlines()
    for k in range(0, len(rows), 40):
        lines = []
        for row in rows[k:k + 40]:
            kind, val, spec, want = row.split('\t')
            if want == '!error':
                continue
            lines.append("print('{:%s}'.format(%s))" % (spec, val) if kind == 'fmt' else "print('%%%s' %% (%s,))" % (spec, val))
        seeds.append('\n'.join(lines) + '\n')
    for old in glob.glob(os.path.join(OUT, '*')):
        os.remove(old)
    for s in seeds:
        data = s.encode('utf-8')
        if len(data) > 4096:
            continue
        name = hashlib.sha1(data).hexdigest()[:16] + '.py'
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(data)
    print('%d seeds in %s' % (len(os.listdir(OUT)), os.path.relpath(OUT, ROOT)))


if __name__ == '__main__':
    main()
