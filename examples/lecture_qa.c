/* The lecture's question-answering model: two int32 inputs, fed by list and
 * by dict of input names. First the listing as printed, whose
 * Embedding(64, text_vocabulary_size) swaps input_dim and output_dim: its fit
 * stops with the index message. Then the model with Keras' argument order.
 *   build/lecture_qa [epochs]   (default 10, as the lecture) */
#include <stdio.h>
#include <stdlib.h>

#include <lamina.h>

enum { TEXT_VOCAB = 10000, QUESTION_VOCAB = 10000, ANSWER_VOCAB = 500 };
enum { NUM_SAMPLES = 1000, MAX_LENGTH = 100 };

static lm_model *build(lm_ctx *ctx, int swapped) {
  lm_sym *text_input = lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "text");
  lm_layer *et = swapped ? lm_layer_embedding(ctx, 64, TEXT_VOCAB, NULL)
                         : lm_layer_embedding(ctx, TEXT_VOCAB, 64, NULL);
  lm_sym *encoded_text = lm_layer_call(lm_layer_lstm(ctx, 32, NULL),
                                       lm_layer_call(et, text_input));

  lm_sym *question_input =
      lm_input(ctx, 1, (int64_t[]){LM_NONE}, LM_INT32, "question");
  lm_layer *eq = swapped ? lm_layer_embedding(ctx, 32, QUESTION_VOCAB, NULL)
                         : lm_layer_embedding(ctx, QUESTION_VOCAB, 32, NULL);
  lm_sym *encoded_question = lm_layer_call(lm_layer_lstm(ctx, 16, NULL),
                                           lm_layer_call(eq, question_input));

  lm_sym *both[2] = {encoded_text, encoded_question};
  lm_sym *concatenated = lm_concatenate(ctx, 2, both, -1);
  lm_sym *answer =
      lm_layer_call(lm_layer_dense(ctx, ANSWER_VOCAB,
                                   &(lm_dense_opts){.activation = "softmax"}),
                    concatenated);
  lm_sym *inputs[2] = {text_input, question_input};
  lm_model *model = lm_model_new(ctx, 2, inputs, 1, &answer, NULL);
  const char *loss = "categorical_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer_name = "rmsprop",
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &metric};
  if (!model || lm_model_compile(model, &co))
    return NULL;
  return model;
}

int main(int argc, char **argv) {
  int epochs = argc > 1 ? atoi(argv[1]) : 10;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 1);
  int64_t xs[2] = {NUM_SAMPLES, MAX_LENGTH},
          ys[2] = {NUM_SAMPLES, ANSWER_VOCAB};
  lm_tensor *text = lm_tensor_new(ctx, LM_INT32, 2, xs);
  lm_tensor *question = lm_tensor_new(ctx, LM_INT32, 2, xs);
  lm_tensor *answers =
      lm_tensor_new(ctx, LM_FLOAT32, 2, ys); /* randint(0, 1): all zeros */
  uint64_t s = 7;
  for (int64_t i = 0; i < NUM_SAMPLES * MAX_LENGTH;
       i++) { /* np.random.randint(1, vocab) */
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    lm_tensor_i32(text)[i] = 1 + (int32_t)((s >> 33) % (TEXT_VOCAB - 1));
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    lm_tensor_i32(question)[i] =
        1 + (int32_t)((s >> 33) % (QUESTION_VOCAB - 1));
  }
  lm_tensor *list[2] = {text, question};
  lm_data x_list = {2, list, NULL}, y = {1, &answers, NULL};
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = epochs;
  fo.batch_size = 128;

  printf("--- the listing as printed: Embedding(64, text_vocabulary_size)\n");
  lm_model *listing = build(ctx, 1);
  if (!listing || !lm_model_fit(listing, &x_list, &y, &fo)) {
    printf("error: %s\n", lm_errmsg(ctx));
  }
  lm_ctx_reset_names(ctx);
  printf("--- Embedding(text_vocabulary_size, 64)\n");
  lm_model *model = build(ctx, 0);
  if (!model) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_model_summary(model, NULL, NULL);
  printf("model.fit([text, question], answers, epochs=%d, batch_size=128)\n",
         epochs);
  if (!lm_model_fit(model, &x_list, &y, &fo)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  printf("model.fit({'text': text, 'question': question}, answers, epochs=%d, "
         "batch_size=128)\n",
         epochs);
  const char *names[2] = {"text", "question"};
  lm_data x_dict = {2, list, names};
  if (!lm_model_fit(model, &x_dict, &y, &fo)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }
  lm_ctx_free(ctx);
  return 0;
}
