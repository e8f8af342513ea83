// mlx_loader.cpp reads one model file with Apple's MLX, as mx.load does
// from C++: load_gguf, load (npy) or load_safetensors, chosen by the
// file's first bytes. It reads the path from standard input and prints one
// JSON reading (the spelling of internal/consumers): each array's name,
// dtype in safetensors spelling, row-major shape and the SHA-256 of its
// bytes in C order after eval. Run one process per file: MLX dies by a
// signal on some hostile files. Build steps: README, "Real consumers".
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "mlx/mlx.h"

namespace mx = mlx::core;

static std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

static std::string dtype(mx::Dtype t) {
  using V = mx::Dtype::Val;
  switch (t.val()) {
    case V::bool_: return "BOOL";
    case V::uint8: return "U8";
    case V::uint16: return "U16";
    case V::uint32: return "U32";
    case V::uint64: return "U64";
    case V::int8: return "I8";
    case V::int16: return "I16";
    case V::int32: return "I32";
    case V::int64: return "I64";
    case V::float16: return "F16";
    case V::float32: return "F32";
    case V::float64: return "F64";
    case V::bfloat16: return "BF16";
    case V::complex64: return "C64";
  }
  return "?";
}

static std::string json_escape(const std::string& e) {
  std::string s;
  for (char c : e) {
    if (c == '"' || c == '\\') s += '\\';
    if ((unsigned char)c < 0x20) continue;
    s += c;
  }
  return s;
}

static void print(const std::map<std::string, mx::array>& arrays) {
  std::cout << "{\"ok\":true,\"tensors\":[";
  bool first = true;
  for (auto [name, a] : arrays) {
    a = mx::contiguous(a);
    mx::eval(a);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(a.data<unsigned char>(), a.nbytes(), md, &n, EVP_sha256(), nullptr);
    std::cout << (first ? "" : ",") << "{\"name_hex\":\"" << hex((const unsigned char*)name.data(), name.size())
              << "\",\"dtype\":\"" << dtype(a.dtype()) << "\",\"shape\":[";
    for (size_t i = 0; i < a.shape().size(); i++) std::cout << (i ? "," : "") << a.shape()[i];
    std::cout << "],\"sha256\":\"" << hex(md, n) << "\"}";
    first = false;
  }
  std::cout << "]}" << std::endl;
}

int main() {
  std::string path;
  std::getline(std::cin, path);
  char magic[8] = {0};
  std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
  try {
    std::map<std::string, mx::array> arrays;
    if (std::string(magic, 4) == "GGUF") {
      for (auto& [k, v] : mx::load_gguf(path).first) arrays.emplace(k, v);
    } else if (std::string(magic, 6) == "\x93NUMPY") {
      arrays.emplace("", mx::load(path));
    } else {
      for (auto& [k, v] : mx::load_safetensors(path).first) arrays.emplace(k, v);
    }
    print(arrays);
  } catch (const std::exception& e) {
    std::cout << "{\"ok\":false,\"error\":\"" << json_escape(e.what()) << "\"}" << std::endl;
  }
  return 0;
}
