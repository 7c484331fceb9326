{
  # node-gyp build of the CPU sources: the fallback where cmake or cmake-js is missing (npm
  # bundles node-gyp). CMakeLists.txt is the main build and makes the prebuild.
  "targets": [
    {
      "target_name": "noised_topk",
      "sources": [
        "native/binding.cpp",
        "native/binding_ops.cpp",
        "native/malloc_tuning.cpp",
        "native/cpu/noised_topk_cpu.cpp",
        "native/cpu/topk_cpu.cpp",
        "native/cpu/noised_topk_avx2.cpp",
        "native/cpu/thread_pool.cpp"
      ],
      "include_dirs": ["<!(node -p \"try { require('node-addon-api').include_dir } catch { 'native/vendor/node-addon-api' }\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/fp:strict"] }
      }
    }
  ]
}
