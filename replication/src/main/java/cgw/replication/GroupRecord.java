package cgw.replication;

import org.jspecify.annotations.Nullable;

/**
 * A replicated group as the catalog keeps it ({@code replication/group/NAME}).
 *
 * @param role       which side this gateway is
 * @param generation grows by one at each promotion; anything older is refused
 * @param target     where a primary ships (null: not shipping)
 * @param demoted    a primary whose volumes were turned read-only for a planned failover
 * @param primary    on a replica, the gateway id of the primary it applies from
 */
record GroupRecord(Role role, long generation, @Nullable Target target, boolean demoted, @Nullable String primary) {
    GroupRecord withTarget(@Nullable Target newTarget) {
        return new GroupRecord(role, generation, newTarget, demoted, primary);
    }

    GroupRecord demoted(boolean value) {
        return new GroupRecord(role, generation, target, value, primary);
    }

    boolean writable() {
        return role == Role.PRIMARY && !demoted;
    }
}
