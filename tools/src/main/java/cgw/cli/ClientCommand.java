package cgw.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * One client command: sends its request to the gateway and prints the answer, as a table or, with
 * {@code --json}, as the server's JSON (pretty); an answer without a body prints nothing. Runs on
 * the main thread; failures are {@link CliException}s, which {@code cgw} prints as one line.
 */
@Command(sortOptions = false)
abstract class ClientCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ClientOptions client;

    @Override
    public final Integer call() throws JsonProcessingException {
        checkArguments();
        JsonNode reply = send(client.connect());
        if (reply.isMissingNode()) {
            return 0;
        }
        PrintWriter out = spec.commandLine().getOut();
        if (client.json()) {
            out.println(GatewayClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(reply));
        } else {
            table(reply).print(out);
        }
        out.flush();
        return 0;
    }

    /** Refuses, with a {@link picocli.CommandLine.ParameterException}, what picocli's declarations cannot. */
    void checkArguments() {
    }

    /** Sends this command's request; the answer, or a missing node when it has no body. */
    abstract JsonNode send(GatewayClient gateway);

    /** The answer as the table to print. */
    abstract Table table(JsonNode reply);

    /** {@code GET} of a collection, printed a row per item of its list. */
    abstract static class Listing extends ClientCommand {
        private final String collection;
        private final String field;
        private final Function<List<JsonNode>, Table> view;

        /**
         * @param collection its path, such as {@code /v1/volumes}
         * @param field      the answer's list, {@code {"volumes":[...]}}
         * @param view       the list's table
         */
        Listing(String collection, String field, Function<List<JsonNode>, Table> view) {
            this.collection = collection;
            this.field = field;
            this.view = view;
        }

        /** The path to get: the collection's, with any query. */
        String path() {
            return collection;
        }

        @Override
        final JsonNode send(GatewayClient gateway) {
            return gateway.get(path());
        }

        @Override
        final Table table(JsonNode reply) {
            return view.apply(Views.items(reply, field));
        }
    }

    /** {@code DELETE}, which prints nothing on success, whatever the answer holds. */
    abstract static class Deletion extends ClientCommand {
        /** The path of what goes. */
        abstract String path();

        @Override
        final JsonNode send(GatewayClient gateway) {
            gateway.delete(path());
            return MissingNode.getInstance();
        }

        @Override
        final Table table(JsonNode reply) {
            throw new IllegalStateException("a deletion prints no table");
        }
    }

    /** {@code DELETE} of a collection's member by name. */
    abstract static class NamedDeletion extends Deletion {
        private final String collection;

        @Parameters(paramLabel = "NAME")
        String name;

        NamedDeletion(String collection) {
            this.collection = collection;
        }

        @Override
        final String path() {
            return collection + "/" + GatewayClient.segment(name);
        }
    }
}
