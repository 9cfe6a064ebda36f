package cgw.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A noun whose verbs are subcommands ({@code cgw volume create}); alone it is a usage error that
 * names the verbs. Runs on the main thread.
 */
abstract class CommandGroup implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public final void run() {
        String verbs = String.join(", ", spec.subcommands().keySet());
        throw new ParameterException(spec.commandLine(), "missing subcommand of '" + spec.qualifiedName()
                + "': one of " + verbs);
    }
}
