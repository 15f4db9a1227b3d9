// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "migrate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "migrate", targets: ["migrate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // Running blocking work off Swift's cooperative pool.
        .target(name: "BlockingIO"),
        // The one rule for which errors a retry can fix, shared by every wire module.
        .target(name: "Failures"),
        // Gregorian calendar arithmetic for ISO 8601 text.
        .target(name: "Chronology"),
        // SHA-256 and HMAC over OpenSSL's EVP interface.
        .target(name: "Hashing", dependencies: ["COpenSSL"]),
        // TCP and TLS byte streams, URIs, secrets.
        .target(name: "Transport", dependencies: ["COpenSSL", "BlockingIO", "Failures"]),
        // RESP codec (hiredis), connections, pipelines, cluster routing.
        .target(name: "RESP", dependencies: ["CHiredis", "Transport", "BlockingIO", "Failures"]),
        // JSON values that keep integers and key order, a fast writer and a strict parser.
        .target(name: "JSON"),
        // HTTP/1.1 over the transport (TLS by OpenSSL), keep-alive.
        .target(name: "HTTP", dependencies: ["Transport", "BlockingIO", "Failures"]),
        // PackStream codec and Bolt sessions (Neo4j, Memgraph).
        .target(name: "Bolt", dependencies: ["Transport", "BlockingIO", "Failures"]),
        // AWS Signature Version 4, credentials, S3 uploads.
        .target(name: "AWS", dependencies: ["Chronology", "Hashing", "Transport", "HTTP", "JSON", "BlockingIO", "Failures"]),
        // Amazon Neptune's openCypher HTTPS endpoint and bulk loader, SigV4-signed.
        .target(name: "Neptune", dependencies: ["AWS", "HTTP", "JSON", "Transport", "Failures"]),
        // Qdrant's REST API.
        .target(name: "Qdrant", dependencies: ["HTTP", "JSON", "Transport", "Failures"]),
        // libpq connections, binary COPY, pgvector codecs.
        .target(name: "Postgres", dependencies: ["CLibPQ", "Transport", "BlockingIO", "Failures"]),
        // Batching, checkpoints, checksums, progress, retries, reports: shared by every migration.
        .target(
            name: "MigrationCore",
            dependencies: [
                "Hashing", "BlockingIO", "Failures",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `migrate redis` and `migrate verify redis`.
        .target(
            name: "KeyMigration",
            dependencies: [
                "RESP", "Transport", "MigrationCore", "Hashing", "Failures",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `migrate vectors` and `migrate verify vectors`.
        .target(
            name: "VectorMigration",
            dependencies: [
                "Postgres", "Qdrant", "JSON", "MigrationCore", "Hashing", "Transport", "Chronology", "Failures",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `migrate graph` and `migrate verify graph`.
        .target(
            name: "GraphMigration",
            dependencies: [
                "Bolt", "Neptune", "AWS", "HTTP", "JSON", "MigrationCore", "Hashing", "Transport", "Chronology", "Failures",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `migrate objects` and `migrate verify objects`: a directory into S3.
        .target(
            name: "ObjectMigration",
            dependencies: [
                "AWS", "BlockingIO", "Hashing", "JSON", "MigrationCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "MigrationPlanning",
            dependencies: ["MigrationCore", .product(name: "Yams", package: "Yams")]
        ),
        // Reports as one self-contained HTML page (`--report-html`, `migrate report`).
        .target(name: "ReportHTML", dependencies: ["MigrationCore", "MigrationPlanning"]),
        .executableTarget(
            name: "migrate",
            dependencies: [
                "MigrationPlanning", "KeyMigration", "VectorMigration", "GraphMigration", "ObjectMigration", "MigrationCore", "Transport", "RESP", "Postgres", "Qdrant", "Bolt", "Neptune", "AWS",
                "ReportHTML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "TransportTests", dependencies: ["Transport"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP"]),
        .testTarget(name: "BoltTests", dependencies: ["Bolt"]),
        .testTarget(name: "AWSTests", dependencies: ["AWS", "HTTP", "Transport"]),
        .testTarget(name: "ObjectMigrationTests", dependencies: ["ObjectMigration", "BlockingIO"]),
        .testTarget(name: "GraphMigrationTests", dependencies: ["GraphMigration", "Bolt", "JSON", "Neptune", "AWS", "MigrationCore"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "VectorMigrationTests", dependencies: ["VectorMigration", "Postgres", "JSON"]),
        .testTarget(name: "MigrationCoreTests", dependencies: ["MigrationCore", "Hashing"]),
        .testTarget(name: "KeyMigrationTests", dependencies: ["KeyMigration", "RESP", "MigrationCore"]),
        .testTarget(name: "ReportHTMLTests", dependencies: ["ReportHTML", "MigrationCore", "MigrationPlanning"]),
        .testTarget(name: "MigrationPlanningTests", dependencies: ["MigrationPlanning", "MigrationCore"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["KeyMigration", "VectorMigration", "GraphMigration", "ObjectMigration", "Postgres", "Qdrant", "Bolt", "Neptune", "AWS", "HTTP", "JSON",
                           "RESP", "Transport", "MigrationCore", "migrate", .product(name: "Yams", package: "Yams")]
        ),
    ]
)
