/// Redis Cluster key hashing: CRC16-XMODEM of the key, or of its first non-empty `{hash tag}`, modulo 16384.
public enum HashSlot {
    /// The number of slots in a cluster.
    public static let count = 16384

    /// The slot that owns `key`.
    public static func slot(for key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { bytes in
            var hashed = bytes[...]
            if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
               let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
                hashed = bytes[(open + 1)..<close]
            }
            return Int(crc16(hashed) & 0x3FFF)
        }
    }

    /// CRC16 with polynomial 0x1021, initial value 0 (XMODEM), as Redis' `crc16.c`.
    static func crc16(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
