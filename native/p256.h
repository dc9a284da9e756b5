// The one SubjectPublicKeyInfo encoding of a P-256 key that Apple sends and that the addon emits:
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04||X||Y }.
#pragma once

#include <cstddef>
#include <cstdint>

namespace applepay {

constexpr size_t kP256PointSize = 65;  // 0x04 || X(32) || Y(32)

constexpr uint8_t kP256SpkiPrefix[26] = {
    0x30, 0x59,                                                  // SEQUENCE, 89 bytes
    0x30, 0x13,                                                  //   SEQUENCE, 19 bytes
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,        //     1.2.840.10045.2.1
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,  //     1.2.840.10045.3.1.7
    0x03, 0x42, 0x00,                                            //   BIT STRING, 66 bytes, 0 unused
};

}  // namespace applepay
