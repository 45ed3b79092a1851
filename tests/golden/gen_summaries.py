#!/usr/bin/env python3
"""Writes the golden model.summary() texts for tests/test_model.c.

The row algorithm is a literal transcription of Keras 2.2.4
keras/utils/layer_utils.py::print_summary; the rows themselves (names, shapes,
parameter counts, connections) are written out by hand below from Keras'
rules, so the C implementation is checked against an independent statement.
Run: python3 gen_summaries.py  (writes *.txt next to this file)
"""
import os

def print_row(fields, positions):
    line = ''
    for i in range(len(fields)):
        if i > 0:
            line = line[:-1] + ' '
        line += str(fields[i])
        line = line[:positions[i]]
        line += ' ' * (positions[i] - len(line))
    return line + '\n'

def summary(rows, totals, seq):
    if seq:
        L, pos = 65, [int(65 * p) for p in [.45, .85, 1.]]
        hdr = ['Layer (type)', 'Output Shape', 'Param #']
    else:
        L, pos = 98, [int(98 * p) for p in [.33, .55, .67, 1.]]
        hdr = ['Layer (type)', 'Output Shape', 'Param #', 'Connected to']
    out = '_' * L + '\n' + print_row(hdr, pos) + '=' * L + '\n'
    for i, r in enumerate(rows):
        if seq:
            out += print_row(r, pos)
        else:
            name, shape, params, conns = r
            first = conns[0] if conns else ''
            out += print_row([name, shape, params, first], pos)
            for c in conns[1:]:
                out += print_row(['', '', '', c], pos)
        out += ('=' if i == len(rows) - 1 else '_') * L + '\n'
    t, tr, nt = totals
    out += 'Total params: {:,}\n'.format(t)
    out += 'Trainable params: {:,}\n'.format(tr)
    out += 'Non-trainable params: {:,}\n'.format(nt)
    out += '_' * L + '\n'
    return out

GOLDEN = {
    # The lecture's functional MLP, built after its Sequential twin (dense_1..3).
    'lecture_functional_mlp.txt': summary([
        ['input_1 (InputLayer)', '(None, 64)', 0],
        ['dense_4 (Dense)', '(None, 32)', 2080],
        ['dense_5 (Dense)', '(None, 32)', 1056],
        ['dense_6 (Dense)', '(None, 10)', 330],
    ], (3466, 3466, 0), True),
    # The lecture's Sequential model (no InputLayer row).
    'lecture_sequential_mlp.txt': summary([
        ['dense_1 (Dense)', '(None, 32)', 2080],
        ['dense_2 (Dense)', '(None, 32)', 1056],
        ['dense_3 (Dense)', '(None, 10)', 330],
    ], (3466, 3466, 0), True),
    # Two inputs, a shared Dense applied to both, concatenate, two outputs.
    'branching.txt': summary([
        ['left (InputLayer)', '(None, 16)', 0, []],
        ['right (InputLayer)', '(None, 16)', 0, []],
        ['shared (Dense)', '(None, 8)', 136, ['left[0][0]', 'right[0][0]']],
        ['concatenate_1 (Concatenate)', '(None, 16)', 0, ['shared[0][0]', 'shared[1][0]']],
        ['dropout_1 (Dropout)', '(None, 16)', 0, ['concatenate_1[0][0]']],
        ['score (Dense)', '(None, 1)', 17, ['dropout_1[0][0]']],
        ['kind (Dense)', '(None, 3)', 51, ['dropout_1[0][0]']],
    ], (204, 204, 0), False),
    # examples/imdb_bidirectional.py: Embedding -> Bidirectional(LSTM) -> TimeDistributed(Dense)
    # -> GRU (reset_after=True: bias (2, 3u)) -> Dense. Params: 1000*32; 2*4*(32*(32+32)+32);
    # 64*8+8; 3*(16*(8+16)+2*16); 16+1.
    'rnn_wrappers.txt': summary([
        ['embedding_1 (Embedding)', '(None, 20, 32)', 32000],
        ['bidirectional_1 (Bidirectional)', '(None, 20, 64)', 16640],
        ['time_distributed_1 (TimeDistributed)', '(None, 20, 8)', 520],
        ['gru_1 (GRU)', '(None, 16)', 1248],
        ['dense_2 (Dense)', '(None, 1)', 17],  # dense_1 is the one inside TimeDistributed
    ], (50425, 50425, 0), True),
}

if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for name, text in GOLDEN.items():
        with open(os.path.join(here, name), 'w') as f:
            f.write(text)
