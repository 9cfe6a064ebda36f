package cgw.tests;

/**
 * How long fault and attack campaigns run: a short slice in {@code mvn verify}, the long one in
 * {@code mvn -P faults verify} (which sets {@code -Dcgw.campaign=long}).
 */
public final class Campaign {
    private Campaign() {
    }

    public static boolean isLong() {
        return "long".equals(System.getProperty("cgw.campaign"));
    }

    public static int pick(int inVerify, int inCampaign) {
        return isLong() ? inCampaign : inVerify;
    }
}
