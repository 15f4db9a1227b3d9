import AWS
import MigrationCore

extension PhasePlan {
    /// Adds which source supplied the AWS credentials and when they expire (never a secret), or why none could
    /// be had, to the plan.
    mutating func addCredentials(from provider: AWSCredentialProvider) async {
        do {
            facts.append(["AWS credentials", try await provider.resolve().summary])
        } catch {
            problems.append("AWS credentials: \(error)")
        }
    }
}
