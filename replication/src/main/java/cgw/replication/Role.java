package cgw.replication;

/** Which side of a replicated group a gateway is. */
enum Role {
    /** Guests write here; it ships. */
    PRIMARY,
    /** It applies what the primary ships; its volumes are read-only. */
    REPLICA;

    String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
