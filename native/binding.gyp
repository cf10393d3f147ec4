{
  "targets": [
    {
      "target_name": "retort_native",
      "sources": ["retort_native.cc", "sgemm.cc", "pool.cc"],
      "cflags_cc": ["-O3", "<!@(node -p \"process.env.RETORT_NATIVE_MARCH || '-march=native'\")", "-std=c++17", "-ffp-contract=fast", "-fno-exceptions", "-pthread"],
      "cflags_cc!": ["-fno-rtti"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=fast"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
