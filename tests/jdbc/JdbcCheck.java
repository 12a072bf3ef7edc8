import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * JdbcCheck drives Sluice with the PostgreSQL JDBC driver and prints one
 * line per observation for the Go test (tests/jdbc) to compare:
 * metadata (getTables, getColumns), prepared statements past the driver's
 * server-prepare threshold, typed parameters and an error that keeps the
 * connection usable.
 */
public class JdbcCheck {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0])) {
            DatabaseMetaData md = c.getMetaData();
            System.out.println("product|" + md.getDatabaseProductName() + "|" + md.getDatabaseMajorVersion());
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE"})) {
                while (rs.next()) {
                    System.out.println("table|" + rs.getString("TABLE_NAME") + "|" + rs.getString("TABLE_TYPE"));
                }
            }
            try (ResultSet rs = md.getColumns(null, "public", "clicks", "%")) {
                while (rs.next()) {
                    System.out.println("column|" + rs.getString("COLUMN_NAME") + "|" + rs.getString("TYPE_NAME") + "|"
                        + rs.getInt("DATA_TYPE") + "|" + rs.getInt("COLUMN_SIZE") + "|" + rs.getInt("DECIMAL_DIGITS") + "|"
                        + rs.getString("IS_NULLABLE") + "|" + rs.getInt("ORDINAL_POSITION"));
                }
            }
            try (Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO clicks VALUES (1, 'a', 1.50, '2024-01-01 00:00:10'), (2, 'b', 2.00, '2024-01-01 00:00:50'), (1, 'c', 3.25, '2024-01-01 00:01:30')");
            }
            // The view catches up asynchronously: poll until it has both users.
            for (int i = 0; i < 200; i++) {
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM per_user")) {
                    rs.next();
                    if (rs.getLong(1) == 2) break;
                }
                Thread.sleep(50);
            }
            // Ten executions: the driver switches to a named server-side
            // statement and binary results after prepareThreshold (5).
            try (PreparedStatement ps = c.prepareStatement("SELECT user_id, n, total FROM per_user WHERE user_id = ?")) {
                for (int i = 0; i < 10; i++) {
                    ps.setLong(1, 1 + (i % 2));
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            if (i >= 8) {
                                System.out.println("lookup|" + i + "|" + rs.getLong(1) + "|" + rs.getLong(2) + "|" + rs.getBigDecimal(3));
                            }
                        }
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT ?::int8 + 1, ?::text, ?::numeric, ?::timestamp, ?::bool")) {
                for (int i = 0; i < 7; i++) {
                    ps.setLong(1, 41);
                    ps.setString(2, "héllo");
                    ps.setBigDecimal(3, new java.math.BigDecimal("-12.50"));
                    ps.setTimestamp(4, java.sql.Timestamp.valueOf("2024-02-29 13:45:06.789012"));
                    ps.setBoolean(5, true);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (i == 6) {
                            System.out.println("params|" + rs.getLong(1) + "|" + rs.getString(2) + "|" + rs.getBigDecimal(3) + "|"
                                + rs.getTimestamp(4) + "|" + rs.getBoolean(5));
                        }
                    }
                }
            }
            try (Statement st = c.createStatement()) {
                st.executeQuery("selec 1");
            } catch (SQLException e) {
                System.out.println("error|" + e.getSQLState());
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 7")) {
                rs.next();
                System.out.println("after error|" + rs.getInt(1));
            }
        }
    }
}
