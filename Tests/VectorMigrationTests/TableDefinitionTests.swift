import Testing
@testable import VectorMigration

@Suite struct TableDefinitionTests {
    static let chunks = TableDefinition(
        columns: [
            .init(name: "id", type: "character varying(255)", notNull: true, defaultExpression: nil, collation: nil),
            .init(name: "workspace", type: "character varying(255)", notNull: true, defaultExpression: nil, collation: nil),
            .init(name: "content_vector", type: "vector(1536)", notNull: false, defaultExpression: nil, collation: nil),
            .init(name: "create_time", type: "timestamp(0) without time zone", notNull: false, defaultExpression: "CURRENT_TIMESTAMP", collation: nil),
        ],
        constraints: [
            .init(name: "lightrag_vdb_chunks_pk", kind: "p", definition: "PRIMARY KEY (workspace, id)"),
            .init(name: "chunks_doc_fkey", kind: "f", definition: "FOREIGN KEY (id) REFERENCES public.docs(id)", references: "public.docs"),
            .init(name: "chunks_doc_key", kind: "u", definition: "UNIQUE (id)"),
        ],
        indexes: [.init(name: "idx_hnsw", unique: false, method: "USING hnsw (content_vector vector_cosine_ops) WITH (m='16', ef_construction='64')")])

    @Test func theTableIsCreatedWithItsKeyAndTheRestAfterTheLoad() {
        let table = #""public"."lightrag_vdb_chunks""#
        #expect(Self.chunks.createStatement(table) == #"CREATE TABLE "public"."lightrag_vdb_chunks" ("id" character varying(255) NOT NULL, "workspace" character varying(255) NOT NULL, "content_vector" vector(1536), "create_time" timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "lightrag_vdb_chunks_pk" PRIMARY KEY (workspace, id))"#)
        let none = TableDefinition(columns: [], constraints: [], indexes: [])
        #expect(Self.chunks.deferredStatements(table, existing: none) == [
            #"CREATE INDEX "idx_hnsw" ON "public"."lightrag_vdb_chunks" USING hnsw (content_vector vector_cosine_ops) WITH (m='16', ef_construction='64')"#,
            #"ALTER TABLE "public"."lightrag_vdb_chunks" ADD CONSTRAINT "chunks_doc_key" UNIQUE (id)"#,
        ])
        #expect(Self.chunks.deferredStatements(table, existing: none, foreignKeys: true) == [
            #"ALTER TABLE "public"."lightrag_vdb_chunks" ADD CONSTRAINT "chunks_doc_fkey" FOREIGN KEY (id) REFERENCES public.docs(id)"#,
        ])
        // What the target already has is not created again.
        #expect(Self.chunks.deferredStatements(table, existing: Self.chunks).isEmpty)
    }

    @Test func aTargetMissingOnlyWhatComesAfterTheLoadMatches() {
        var target = Self.chunks
        target.indexes = []
        target.constraints.removeAll { $0.kind != "p" }
        #expect(Self.chunks.differences(from: target).isEmpty)
        target.constraints = []
        #expect(Self.chunks.differences(from: target) == ["constraint lightrag_vdb_chunks_pk (`PRIMARY KEY (workspace, id)`) is missing"])
    }

    @Test func everyDifferenceIsNamed() {
        var target = Self.chunks
        target.columns[2].type = "vector(768)"
        target.columns[3].defaultExpression = nil
        target.columns.append(.init(name: "extra", type: "text", notNull: false, defaultExpression: nil, collation: nil))
        target.constraints[2].definition = "UNIQUE (workspace)"
        target.indexes[0].method = "USING ivfflat (content_vector vector_l2_ops) WITH (lists='100')"
        target.indexes.append(.init(name: "idx_more", unique: true, method: "USING btree (id)"))
        #expect(Self.chunks.differences(from: target) == [
            #"column content_vector: source `"content_vector" vector(1536)`, target `"content_vector" vector(768)`"#,
            #"column create_time: source `"create_time" timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP`, target `"create_time" timestamp(0) without time zone`"#,
            #"column extra is only on the target (`"extra" text`)"#,
            "constraint chunks_doc_key: source `UNIQUE (id)`, target `UNIQUE (workspace)`",
            "index idx_hnsw: source `USING hnsw (content_vector vector_cosine_ops) WITH (m='16', ef_construction='64')`, target `USING ivfflat (content_vector vector_l2_ops) WITH (lists='100')`",
            "index idx_more is only on the target (`USING btree (id)`)",
        ])
        var reordered = Self.chunks
        reordered.columns.swapAt(0, 1)
        #expect(Self.chunks.differences(from: reordered) == ["the columns are in another order: source (id, workspace, content_vector, create_time), target (workspace, id, content_vector, create_time)"])
    }

    @Test func aKeyTheSourceLacksReplacesItsPrimaryKey() {
        let keyed = Self.chunks.planned(into: "chunks", from: "chunks", key: ["id"], sourceKey: ["workspace", "id"])
        #expect(keyed.constraints.filter { $0.kind == "p" } == [.init(name: "chunks_pkey", kind: "p", definition: #"PRIMARY KEY ("id")"#, synthesized: true)])
        #expect(Self.chunks.planned(into: "lightrag_vdb_chunks", from: "lightrag_vdb_chunks", key: ["id", "workspace"], sourceKey: ["workspace", "id"]) == Self.chunks)
        // The made-up key's text is not the catalog's: an existing target's key is not compared by text.
        var target = Self.chunks
        target.constraints = [.init(name: "chunks_pkey", kind: "p", definition: "PRIMARY KEY (id)")] + Self.chunks.constraints.filter { $0.kind != "p" }
        #expect(keyed.differences(from: target).isEmpty)
    }

    @Test func foreignKeysToTablesOutsideTheCopyAreLeftOutAndSaidSo() {
        let (inside, none) = Self.chunks.referring(within: ["public.docs", "public.lightrag_vdb_chunks"])
        #expect(inside == Self.chunks && none.isEmpty)
        let (outside, notes) = Self.chunks.referring(within: ["public.lightrag_vdb_chunks"])
        #expect(outside.constraints.map(\.name) == ["lightrag_vdb_chunks_pk", "chunks_doc_key"])
        #expect(notes == ["foreign key chunks_doc_fkey refers to public.docs, which this copy does not cover: it is not created (`FOREIGN KEY (id) REFERENCES public.docs(id)`)"])
    }

    @Test func intoAnotherTableTheNamesFollowTheTable() {
        let copy = Self.chunks.planned(into: "chunks_copy", from: "lightrag_vdb_chunks", key: ["workspace", "id"], sourceKey: ["workspace", "id"])
        #expect(copy.constraints.map(\.name) == ["chunks_copy_pk", "chunks_doc_fkey", "chunks_doc_key"])
        #expect(copy.indexes.map(\.name) == ["idx_hnsw"])
        #expect(copy.columns == Self.chunks.columns)
    }
}
