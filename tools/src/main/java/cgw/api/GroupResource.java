package cgw.api;

import cgw.barrier.Group;
import cgw.barrier.GroupBarrier;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * {@code /v1/groups}: named sets of volumes snapshotted together, and the group barrier itself
 * ({@code POST /v1/groups/{name}/snapshots}). Runs on the store pool.
 */
final class GroupResource {
    /** The body of {@code POST /v1/groups}. */
    record CreateBody(String name, List<String> volumes) {
    }

    /** The body of {@code PUT /v1/groups/{name}}. */
    record SetBody(List<String> volumes) {
    }

    /** A group as the API shows it. */
    record GroupView(String name, List<String> volumes) {
        static GroupView of(Group group) {
            return new GroupView(group.name(), group.volumes());
        }
    }

    record GroupList(List<GroupView> groups) {
    }

    private final GroupBarrier barrier;
    private final Predicate<String> replicaGroups;
    private final Consumer<String> deleteGroup;

    GroupResource(GroupBarrier barrier, Predicate<String> replicaGroups, Consumer<String> deleteGroup) {
        this.barrier = barrier;
        this.replicaGroups = replicaGroups;
        this.deleteGroup = deleteGroup;
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.POST, "/v1/groups", this::create)
                .addGuarded(HttpMethod.GET, "/v1/groups", this::list)
                .addGuarded(HttpMethod.GET, "/v1/groups/{name}", this::show)
                .addGuarded(HttpMethod.PUT, "/v1/groups/{name}", this::set)
                .addGuarded(HttpMethod.DELETE, "/v1/groups/{name}", this::delete)
                .addGuarded(HttpMethod.POST, "/v1/groups/{name}/snapshots", this::snapshot);
    }

    private Reply create(ApiRequest request) throws IOException {
        CreateBody body = ApiJson.read(request.body(), CreateBody.class);
        if (body.name() == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'name' is required");
        }
        Group group = barrier.createGroup(body.name(), requireVolumes(body.volumes()));
        return Reply.created(GroupView.of(group), "/v1/groups/" + group.name());
    }

    private Reply list(ApiRequest request) {
        return Reply.ok(new GroupList(barrier.groups().stream().map(GroupView::of).toList()));
    }

    private Reply show(ApiRequest request) {
        return Reply.ok(GroupView.of(barrier.group(request.pathParam("name"))));
    }

    private Reply set(ApiRequest request) throws IOException {
        SetBody body = ApiJson.read(request.body(), SetBody.class);
        return Reply.ok(GroupView.of(barrier.setGroup(request.pathParam("name"), requireVolumes(body.volumes()))));
    }

    private Reply delete(ApiRequest request) {
        deleteGroup.accept(request.pathParam("name"));
        return Reply.noContent();
    }

    private Reply snapshot(ApiRequest request) throws IOException {
        SnapshotResource.Options options = SnapshotResource.Options.read(request.body());
        if (replicaGroups.test(request.pathParam("name"))) {
            throw new ApiException(ApiError.CONFLICT, "group " + request.pathParam("name")
                    + " is a replica here: its snapshots are the epochs the primary ships; clone one for a drill");
        }
        return SnapshotResource
                .created(barrier.snapshotGroup(request.pathParam("name"), options.label(), options.timeout()));
    }

    static List<String> requireVolumes(List<String> volumes) {
        if (volumes == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'volumes' is required");
        }
        return volumes;
    }
}
