package cgw.replication;

/**
 * Where a snapshot was cut: the gateway and the snapshot's id there. Two snapshots of one origin
 * hold the same bytes, on whichever gateway, so either side can serve as the base of a delta.
 * Written {@code GATEWAY/ID}.
 */
record Origin(String gateway, long snapshot) {
    Origin {
        if (gateway.isEmpty() || gateway.indexOf('/') >= 0) {
            throw new IllegalArgumentException("a gateway id is not empty and has no '/', got '" + gateway + "'");
        }
    }

    /** The origin written {@code text}; {@link IllegalArgumentException} when it is not one. */
    static Origin parse(String text) {
        int slash = text.lastIndexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new IllegalArgumentException("an origin is GATEWAY/ID, got '" + text + "'");
        }
        try {
            return new Origin(text.substring(0, slash), Long.parseLong(text.substring(slash + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("an origin is GATEWAY/ID, got '" + text + "'", e);
        }
    }

    @Override
    public String toString() {
        return gateway + "/" + snapshot;
    }
}
