// ggml.c reads GGUF files with ggml's own reader, gguf_init_from_file in
// libggml-base.so, as llama.cpp's model loader calls it (no_alloc = true,
// with a ggml context for the tensor infos). It reads one path a line on
// standard input and prints one JSON line per path, the reading
// internal/consumers compares. No header ships with the prebuilt library,
// so the declarations it calls are copied from ggml's include/gguf.h.
//
// Build: gcc -O1 -o ggml-reader ggml.c -L DIR -l:libggml-base.so -Wl,-rpath,DIR
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct gguf_context;
struct ggml_context;
struct gguf_init_params {
    bool no_alloc;
    struct ggml_context **ctx;
};
enum gguf_type {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
};
struct gguf_context *gguf_init_from_file(const char *fname, struct gguf_init_params params);
void gguf_free(struct gguf_context *ctx);
void ggml_free(struct ggml_context *ctx);
uint32_t gguf_get_version(const struct gguf_context *ctx);
size_t gguf_get_alignment(const struct gguf_context *ctx);
size_t gguf_get_data_offset(const struct gguf_context *ctx);
int64_t gguf_get_n_kv(const struct gguf_context *ctx);
const char *gguf_get_key(const struct gguf_context *ctx, int64_t key_id);
enum gguf_type gguf_get_kv_type(const struct gguf_context *ctx, int64_t key_id);
enum gguf_type gguf_get_arr_type(const struct gguf_context *ctx, int64_t key_id);
const void *gguf_get_val_data(const struct gguf_context *ctx, int64_t key_id);
const char *gguf_get_val_str(const struct gguf_context *ctx, int64_t key_id);
size_t gguf_get_arr_n(const struct gguf_context *ctx, int64_t key_id);
const void *gguf_get_arr_data(const struct gguf_context *ctx, int64_t key_id);
const char *gguf_get_arr_str(const struct gguf_context *ctx, int64_t key_id, size_t i);
int64_t gguf_get_n_tensors(const struct gguf_context *ctx);
size_t gguf_get_tensor_offset(const struct gguf_context *ctx, int64_t tensor_id);
const char *gguf_get_tensor_name(const struct gguf_context *ctx, int64_t tensor_id);
const int64_t *gguf_get_tensor_ne(const struct gguf_context *ctx, int64_t tensor_id);
int gguf_get_tensor_type(const struct gguf_context *ctx, int64_t tensor_id);
size_t gguf_get_tensor_size(const struct gguf_context *ctx, int64_t tensor_id);
typedef void (*ggml_log_callback)(int level, const char *text, void *user_data);
void ggml_log_set(ggml_log_callback log_callback, void *user_data);

static void quiet(int level, const char *text, void *user_data) {
    (void)level; (void)text; (void)user_data;
}

// hex prints n bytes as lowercase hex: strings are compared byte for byte.
static void hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);
}

static const char *type_names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};

// scalar prints one value of type t at p in the normalised spelling:
// integers in decimal, floats as their bits in hex, bools as 0 or 1.
static void scalar(enum gguf_type t, const void *p) {
    switch (t) {
    case GGUF_TYPE_UINT8: printf("%u", *(const uint8_t *)p); break;
    case GGUF_TYPE_INT8: printf("%d", *(const int8_t *)p); break;
    case GGUF_TYPE_UINT16: printf("%u", *(const uint16_t *)p); break;
    case GGUF_TYPE_INT16: printf("%d", *(const int16_t *)p); break;
    case GGUF_TYPE_UINT32: printf("%" PRIu32, *(const uint32_t *)p); break;
    case GGUF_TYPE_INT32: printf("%" PRId32, *(const int32_t *)p); break;
    case GGUF_TYPE_UINT64: printf("%" PRIu64, *(const uint64_t *)p); break;
    case GGUF_TYPE_INT64: printf("%" PRId64, *(const int64_t *)p); break;
    case GGUF_TYPE_BOOL: printf("%u", *(const uint8_t *)p); break;
    case GGUF_TYPE_FLOAT32: { uint32_t b; memcpy(&b, p, 4); printf("0x%08" PRIx32, b); break; }
    case GGUF_TYPE_FLOAT64: { uint64_t b; memcpy(&b, p, 8); printf("0x%016" PRIx64, b); break; }
    default: printf("?");
    }
}

static size_t type_size(enum gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    default: return 8;
    }
}

static void value(const struct gguf_context *g, int64_t k) {
    enum gguf_type t = gguf_get_kv_type(g, k);
    if (t == GGUF_TYPE_STRING) {
        const char *s = gguf_get_val_str(g, k);
        printf("str ");
        hex(s, strlen(s));
        return;
    }
    if (t != GGUF_TYPE_ARRAY) {
        printf("%s ", type_names[t]);
        scalar(t, gguf_get_val_data(g, k));
        return;
    }
    enum gguf_type et = gguf_get_arr_type(g, k);
    size_t n = gguf_get_arr_n(g, k);
    printf("arr[%s] %zu [", type_names[et], n);
    const char *data = et == GGUF_TYPE_STRING ? NULL : gguf_get_arr_data(g, k);
    for (size_t i = 0; i < n; i++) {
        if (i) printf(",");
        if (et == GGUF_TYPE_STRING) {
            const char *s = gguf_get_arr_str(g, k, i);
            hex(s, strlen(s));
        } else {
            scalar(et, data + i * type_size(et));
        }
    }
    printf("]");
}

static void read_one(const char *path) {
    struct ggml_context *meta = NULL;
    struct gguf_init_params params = {.no_alloc = true, .ctx = &meta};
    struct gguf_context *g = gguf_init_from_file(path, params);
    if (g == NULL) {
        printf("{\"ok\":false,\"error\":\"gguf_init_from_file returned NULL\"}\n");
        return;
    }
    size_t data = gguf_get_data_offset(g);
    printf("{\"ok\":true,\"metadata\":{");
    for (int64_t k = 0; k < gguf_get_n_kv(g); k++) {
        if (k) printf(",");
        printf("\"");
        const char *key = gguf_get_key(g, k);
        hex(key, strlen(key));
        printf("\":\"");
        value(g, k);
        printf("\"");
    }
    printf("},\"tensors\":[");
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        const char *name = gguf_get_tensor_name(g, i);
        const int64_t *ne = gguf_get_tensor_ne(g, i);
        printf("%s{\"name_hex\":\"", i ? "," : "");
        hex(name, strlen(name));
        printf("\",\"dtype\":\"ggml:%d\",\"shape\":[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "],\"offset\":%zu,\"size\":%zu}",
               gguf_get_tensor_type(g, i), ne[0], ne[1], ne[2], ne[3], data + gguf_get_tensor_offset(g, i), gguf_get_tensor_size(g, i));
    }
    printf("]}\n");
    gguf_free(g);
    if (meta) ggml_free(meta);
}

int main(void) {
    ggml_log_set(quiet, NULL);
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        read_one(line);
        fflush(stdout);
    }
    return 0;
}
