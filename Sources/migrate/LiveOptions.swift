import ArgumentParser
import Dispatch
import Foundation
import KeyMigration
import MigrationCore

/// `migrate redis --live …`: follow the source's changes after the full copy until cutover.
struct LiveOptions: ParsableArguments {
    @Flag(name: .customLong("live"), help: """
        After the full copy, follow the source's changes (keyspace notifications) and reconcile periodically, until \
        SIGINT or SIGTERM; then apply what is pending, reconcile a last time and report (exit 0 when equal).
        """)
    var enabled = false
    @Flag(name: .customLong("enable-notifications"), help: """
        With --live: if the source does not publish every change, set notify-keyspace-events for the run (CONFIG SET) \
        and restore it afterwards. Managed services refuse CONFIG: set it in their parameter group instead.
        """)
    var enableNotifications = false
    @Option(name: .customLong("reconcile-interval"), help: ArgumentHelp("With --live: seconds between reconcile passes (a compare that repairs differences).", valueName: "seconds"))
    var reconcileInterval = 300
    @Option(name: .customLong("max-pending"), help: ArgumentHelp("With --live: the most changed keys buffered; beyond, the buffer is dropped and a reconcile pass runs.", valueName: "keys"))
    var maxPending = 1_000_000
    @Option(name: .customLong("live-for"), help: ArgumentHelp("With --live: stop by itself this many seconds after the full copy.", valueName: "seconds"))
    var duration: Int?

    func validate() throws {
        if !enabled && (enableNotifications || duration != nil) {
            throw ValidationError("--enable-notifications and --live-for need --live")
        }
        if reconcileInterval <= 0 { throw ValidationError("--reconcile-interval must be positive") }
        if maxPending <= 0 { throw ValidationError("--max-pending must be positive") }
        if let duration, duration < 0 { throw ValidationError("--live-for cannot be negative") }
    }

    var options: LiveSyncOptions {
        var options = LiveSyncOptions()
        options.reconcileInterval = .seconds(reconcileInterval)
        options.maxPending = maxPending
        options.enableNotifications = enableNotifications
        options.duration = duration.map { .seconds($0) }
        return options
    }
}

/// `migrate vectors --live …`: poll the source tables' updated-at column after the full copy until cutover.
struct VectorLiveOptions: ParsableArguments {
    @Flag(name: .customLong("live"), help: """
        After the full copy, upsert the rows whose --changed-column moved on, every --poll-interval seconds, until \
        SIGINT or SIGTERM; then poll a last time and report. Deleted rows are not followed (verify lists them).
        """)
    var enabled = false
    @Option(name: .customLong("changed-column"), help: ArgumentHelp("With --live: the updated-at column every source table has (LightRAG: update_time).", valueName: "name"))
    var changedColumn: String?
    @Option(name: .customLong("poll-interval"), help: ArgumentHelp("With --live: seconds between two polls.", valueName: "seconds"))
    var pollInterval = 5
    @Option(name: .customLong("live-for"), help: ArgumentHelp("With --live: stop by itself this many seconds after the full copy.", valueName: "seconds"))
    var duration: Int?

    func validate() throws {
        if !enabled && (changedColumn != nil || duration != nil) {
            throw ValidationError("--changed-column and --live-for need --live")
        }
        if enabled && changedColumn == nil {
            throw ValidationError("--live needs --changed-column: the updated-at column of the source tables (LightRAG: update_time)")
        }
        if pollInterval <= 0 { throw ValidationError("--poll-interval must be positive") }
        if let duration, duration < 0 { throw ValidationError("--live-for cannot be negative") }
    }
}
