{
  # werror=1 turns warnings into errors: this repository's CI builds set it (node-gyp rebuild --werror=1,
  # see .ci/run and .github/workflows/release.yml). A user's install never does, so a warning from a newer
  # compiler cannot break it.
  "variables": {
    "werror%": 0
  },
  "targets": [
    {
      "target_name": "applepay_verify",
      "sources": [
        "native/addon.cc",
        "native/codec.cc",
        "native/fixed_base.cc",
        "native/merchant_key.cc",
        "native/primitives.cc",
        "native/token.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # OPENSSL_API_COMPAT=30000 with OPENSSL_NO_DEPRECATED hides every declaration OpenSSL 3.0
      # deprecates, so a deprecated call is a compile error in every build, not only a warning
      # under werror=1: a later Node that drops one cannot leave the addon silently missing a symbol.
      "defines": [
        "OPENSSL_API_COMPAT=30000",
        "OPENSSL_NO_DEPRECATED",
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_cc": ["-Wall", "-Wextra", "-fvisibility=hidden", "-std=c++17"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CPLUSPLUSFLAGS": ["-Wall", "-Wextra", "-std=c++17"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": ["/std:c++17", "/W3", "/utf-8", "/Zc:__cplusplus"]
        }
      },
      "conditions": [
        ["werror==1", {
          "cflags": ["-Werror"],
          "cflags_cc": ["-Werror"],
          "xcode_settings": { "GCC_TREAT_WARNINGS_AS_ERRORS": "YES" },
          "msvs_settings": { "VCCLCompilerTool": { "WarnAsError": "true" } }
        }]
      ]
    }
  ]
}
