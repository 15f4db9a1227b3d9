import AWS
import BlockingIO
import Failures
import Foundation
import HTTP
import JSON
import MigrationCore
import Neptune

/// `--export-csv`: Neptune bulk-load files instead of HTTP writes, optionally uploaded to S3 and loaded.
public struct BulkExport: Sendable {
    /// Where the CSV files are written.
    public var directory: String
    /// Where they are uploaded (`s3://bucket/prefix`), if anywhere.
    public var s3: (configuration: S3Configuration, bucket: String, prefix: String)?
    /// The IAM role Neptune's loader assumes to read the bucket; set to start and poll the loader.
    public var loaderRoleARN: String?

    public init(directory: String, s3: (configuration: S3Configuration, bucket: String, prefix: String)?, loaderRoleARN: String?) {
        self.directory = directory
        self.s3 = s3
        self.loaderRoleARN = loaderRoleARN
    }
}

/// Writes each batch as one openCypher CSV file for Neptune's bulk loader: `:ID`, `:LABEL` (`;`-separated) and
/// typed property columns for nodes; `:ID`, `:START_ID`, `:END_ID`, `:TYPE` and properties for relationships.
/// A file per batch keeps memory bounded and lets every file carry exactly the columns its rows use; names
/// follow the batch's first source id, so a resumed run rewrites the same files.
struct CSVExportWriter: BatchWriter {
    let directory: String
    let converter: PropertyConverter
    let deadLetters: DeadLetterFile
    private let queue = BlockingQueue(label: "migrate.csv")

    init(directory: String, converter: PropertyConverter, deadLetters: DeadLetterFile) {
        self.directory = directory
        self.converter = converter
        self.deadLetters = deadLetters
    }

    mutating func reset() async {}

    mutating func write(_ items: [GraphItem], partition: String) async throws -> BatchOutcome {
        var outcome = BatchOutcome(units: items.count)
        outcome.select(items)
        var conversions: [String: Int] = [:]
        var rows: [(fixed: [String], properties: [(String, JSONValue)])] = []
        var refused: [JSONValue] = []
        var units: [String] = []
        var firstID: Int64?
        for item in items {
            do {
                switch item {
                case .node(let node):
                    firstID = firstID ?? node.sourceID
                    let properties = try converter.literals(node.properties, conversions: &conversions)
                    rows.append(([node.id, node.labels.joined(separator: ";")], properties))
                    units.append(GraphUnit.nodes(node.labels))
                    outcome.checksum.add(record: GraphRecord.node(id: node.id, labels: node.labels, properties: properties))
                    outcome.tally.add("nodes")
                    outcome.tally.add("label \(node.labels.sorted().joined(separator: ":"))")
                case .relationship(let relationship):
                    firstID = firstID ?? relationship.sourceID
                    let properties = try converter.literals(relationship.properties, conversions: &conversions)
                    rows.append(([relationship.id, relationship.start, relationship.end, relationship.type], properties))
                    units.append(GraphUnit.relationships(relationship.type))
                    outcome.checksum.add(record: GraphRecord.relationship(id: relationship.id, type: relationship.type, start: relationship.start,
                                                                          end: relationship.end, properties: properties))
                    outcome.tally.add("relationships")
                    outcome.tally.add("type \(relationship.type)")
                }
            } catch {
                refused.append(GraphDeadLetter.entry(item, reason: "\(error)"))
            }
        }
        for (name, count) in conversions { outcome.tally.add("converted \(name)", count) }
        try await outcome.deadLetter(refused, to: deadLetters)
        guard let firstID, !rows.isEmpty else { return outcome }
        let fixed = partition == GraphPartition.nodes ? [":ID", ":LABEL"] : [":ID", ":START_ID", ":END_ID", ":TYPE"]
        let text = Self.csv(fixedColumns: fixed, rows: rows)
        outcome.bytes = text.utf8.count
        let path = (directory as NSString).appendingPathComponent(String(format: "%@-%012lld.csv", partition, firstID))
        let data = Data(text.utf8)
        try await queue.run {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        // Written once the file is: the bulk loader reads what is in it.
        for unit in units { outcome.ledger.written(unit) }
        outcome.tally.add("csv files")
        return outcome
    }

    /// The CSV text: a header with each property's type (`Long`, `Double`, `Bool`, else `String`), then rows.
    static func csv(fixedColumns: [String], rows: [(fixed: [String], properties: [(String, JSONValue)])]) -> String {
        var names: [String] = []
        var types: [String: String] = [:]
        for row in rows {
            for (name, value) in row.properties {
                let type: String
                switch value {
                case .int: type = "Long"
                case .double: type = "Double"
                case .bool: type = "Bool"
                default: type = "String"
                }
                if let known = types[name] {
                    if known != type { types[name] = (known == "Long" && type == "Double") || (known == "Double" && type == "Long") ? "Double" : "String" }
                } else {
                    names.append(name)
                    types[name] = type
                }
            }
        }
        var lines = [(fixedColumns + names.map { "\($0):\(types[$0]!)" }).map(escape).joined(separator: ",")]
        for row in rows {
            let values = Dictionary(row.properties, uniquingKeysWith: { first, _ in first })
            let cells = names.map { name -> String in
                guard let value = values[name] else { return "" }
                switch value {
                case .string(let text): return escape(text)
                case .int(let number): return types[name] == "String" ? escape(String(number)) : String(number)
                case .double(let number): return String(number)
                case .bool(let flag): return flag ? "true" : "false"
                default: return escape(JSONWriter.text(value))
                }
            }
            lines.append((row.fixed.map(escape) + cells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// RFC 4180 quoting where needed.
    static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Uploads the exported files and runs Neptune's bulk loader on them.
enum BulkLoader {
    /// Uploads every CSV file of `export.directory` under the S3 prefix; returns the `s3://` source.
    static func upload(_ export: BulkExport) async throws -> String? {
        guard let (configuration, bucket, prefix) = export.s3 else { return nil }
        let files = try FileManager.default.contentsOfDirectory(atPath: export.directory).filter { $0.hasSuffix(".csv") }.sorted()
        let client = S3Client(configuration)
        do {
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: (export.directory as NSString).appendingPathComponent(file)))
                let key = prefix.isEmpty ? file : prefix.hasSuffix("/") ? prefix + file : prefix + "/" + file
                try await RetryPolicy().run(isTransient: isTransient) {
                    try await client.put(bucket: bucket, key: key, body: Array(data))
                }
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return "s3://\(bucket)/\(prefix)"
    }

    /// Starts the loader on `source` and polls until it ends; returns the final status payload.
    static func load(source: String, roleARN: String, neptune: NeptuneConfiguration, poll: Duration = .seconds(2)) async throws -> JSONValue {
        let client = NeptuneClient(neptune)
        do {
            let request = JSONValue.object([
                ("source", .string(source)), ("format", .string("opencypher")), ("iamRoleArn", .string(roleARN)),
                ("region", .string(neptune.region)), ("failOnError", .string("TRUE")), ("parallelism", .string("MEDIUM")),
                ("queueRequest", .string("TRUE")),
            ])
            let started = try await client.send("POST", path: "/loader", contentType: "application/json", body: JSONWriter.bytes(request))
            guard let loadID = started["payload"]?["loadId"]?.string else { throw NeptuneError.malformed("no loadId in \(JSONWriter.text(started))") }
            while true {
                let status = try await client.send("GET", path: "/loader/\(loadID)")
                let overall = status["payload"]?["overallStatus"]?["status"]?.string ?? ""
                if overall == "LOAD_COMPLETED" {
                    await client.close()
                    return status["payload"] ?? status
                }
                if overall.hasPrefix("LOAD_FAILED") || overall.hasPrefix("LOAD_CANCELLED") || overall.contains("ERROR") {
                    throw NeptuneError.status(400, code: overall, message: "bulk load \(loadID) ended \(overall): \(JSONWriter.text(status["payload"] ?? status).prefix(500))")
                }
                try await Task.sleep(for: poll)
            }
        } catch {
            await client.close()
            throw error
        }
    }
}
