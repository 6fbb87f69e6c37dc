// One JMS role of the OpenWire high-availability test (test/openwire-ha.test.ts), with the ActiveMQ 5.17 client on
// a failover: URL. Usage:
//   java JmsHa send      URL QUEUE COUNT                      persistent sync sends, property seq = 0..COUNT-1
//   java JmsHa receive   URL QUEUE COUNT                      AUTO_ACKNOWLEDGE consumer until every seq is seen
//   java JmsHa sendTx    URL QUEUE BATCHES SIZE PAUSE_AT      transacted batches; before committing batch PAUSE_AT
//                                                             it prints "INFLIGHT b connection=ID tx=N" (the
//                                                             commit's ids) and waits for a line on stdin
//   java JmsHa receiveTx URL QUEUE COUNT SIZE                 transacted consumer, a commit every SIZE messages
// Prints "PROGRESS n" as it goes, "ROLLEDBACK why" for each TransactionRolledBackException (the work is then
// retried), and "PASS role ..." or "FAIL role: why" at the end (exit 0 or 1). A message id seen twice is a
// violation unless the second copy has JMSRedelivered set; copies the client's own audit drops never reach here.
// Every wait is bounded: IDLE_MS without a new message ends a consumer with FAIL.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.ActiveMQSession;
import org.apache.activemq.command.LocalTransactionId;

public class JmsHa {
  static final long IDLE_MS = 120_000;
  static final int PROGRESS_EVERY = 50;

  static Connection open(String url) throws JMSException {
    Connection c = new ActiveMQConnectionFactory(url).createConnection();
    c.setExceptionListener(e -> System.err.println("connection exception: " + e));
    c.start();
    return c;
  }

  static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String role = args[0];
    try {
      String result;
      switch (role) {
        case "send": result = send(args[1], args[2], Integer.parseInt(args[3])); break;
        case "receive": result = receive(args[1], args[2], Integer.parseInt(args[3])); break;
        case "sendTx":
          result = sendTx(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]));
          break;
        case "receiveTx":
          result = receiveTx(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
          break;
        default: throw new IllegalArgumentException("unknown role " + role);
      }
      say("PASS " + role + " " + result);
      System.exit(0);
    } catch (Throwable t) {
      t.printStackTrace();
      say("FAIL " + role + ": " + t);
      System.exit(1);
    }
  }

  static String send(String url, String queue, int count) throws JMSException {
    Connection c = open(url);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageProducer p = s.createProducer(s.createQueue(queue));
    p.setDeliveryMode(DeliveryMode.PERSISTENT);
    for (int i = 0; i < count; i++) {
      TextMessage m = s.createTextMessage("m" + i);
      m.setIntProperty("seq", i);
      p.send(m);
      if ((i + 1) % PROGRESS_EVERY == 0) say("PROGRESS " + (i + 1));
    }
    c.close();
    return "sent=" + count;
  }

  /** Seqs not in `seen` below count, for a failure message (the first 20). */
  static String missing(Set<Integer> seen, int count) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < count && out.size() < 20; i++) if (!seen.contains(i)) out.add(i);
    return out.toString();
  }

  static String receive(String url, String queue, int count) throws JMSException {
    Connection c = open(url);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer mc = s.createConsumer(s.createQueue(queue));
    Set<Integer> seqs = new TreeSet<>();
    Set<String> ids = new HashSet<>();
    int redelivered = 0;
    while (seqs.size() < count) {
      Message m = mc.receive(IDLE_MS);
      if (m == null) throw new AssertionError("nothing for " + IDLE_MS + " ms; missing " + missing(seqs, count));
      if (!ids.add(m.getJMSMessageID())) {
        if (!m.getJMSRedelivered()) throw new AssertionError("duplicate without JMSRedelivered: " + m.getJMSMessageID());
        redelivered++;
      }
      if (seqs.add(m.getIntProperty("seq")) && seqs.size() % PROGRESS_EVERY == 0) say("PROGRESS " + seqs.size());
    }
    c.close();
    return "received=" + seqs.size() + " redelivered=" + redelivered;
  }

  static String sendTx(String url, String queue, int batches, int size, int pauseAt) throws Exception {
    Connection c = open(url);
    Session s = c.createSession(true, Session.SESSION_TRANSACTED);
    MessageProducer p = s.createProducer(s.createQueue(queue));
    p.setDeliveryMode(DeliveryMode.PERSISTENT);
    int rolledBack = 0;
    boolean paused = false;
    for (int b = 0; b < batches; b++) {
      for (int attempt = 1; ; attempt++) {
        if (attempt > 10) throw new AssertionError("batch " + b + " rolled back 10 times");
        for (int k = 0; k < size; k++) {
          TextMessage m = s.createTextMessage("t" + (b * size + k));
          m.setIntProperty("seq", b * size + k);
          p.send(m);
        }
        if (b == pauseAt && !paused) {
          paused = true;
          // The ids of the commit about to be sent: the HA test encodes that frame to know its size on the wire.
          say("INFLIGHT " + b + " connection=" + ((ActiveMQConnection) c).getConnectionInfo().getConnectionId().getValue()
              + " tx=" + ((LocalTransactionId) ((ActiveMQSession) s).getTransactionContext().getTransactionId()).getValue());
          new BufferedReader(new InputStreamReader(System.in)).readLine();
          say("COMMITTING " + b);
        }
        try {
          s.commit();
          break;
        } catch (TransactionRolledBackException e) {
          rolledBack++;
          say("ROLLEDBACK batch " + b + ": " + e.getMessage());
        }
      }
      say("PROGRESS " + (b + 1) * size);
    }
    c.close();
    return "sent=" + batches * size + " rolledBack=" + rolledBack;
  }

  static String receiveTx(String url, String queue, int count, int size) throws JMSException {
    Connection c = open(url);
    Session s = c.createSession(true, Session.SESSION_TRANSACTED);
    MessageConsumer mc = s.createConsumer(s.createQueue(queue));
    Set<Integer> seqs = new TreeSet<>();
    Set<String> ids = new HashSet<>();
    List<Message> pending = new ArrayList<>();
    int rolledBack = 0;
    int redelivered = 0;
    int again = 0;
    while (seqs.size() < count) {
      Message m = mc.receive(IDLE_MS);
      if (m == null) throw new AssertionError("nothing for " + IDLE_MS + " ms; missing " + missing(seqs, count));
      if (ids.contains(m.getJMSMessageID())) {
        // Consumed in a committed transaction and delivered again: allowed only as a redelivery.
        if (!m.getJMSRedelivered()) throw new AssertionError("duplicate without JMSRedelivered: " + m.getJMSMessageID());
        redelivered++;
      }
      pending.add(m);
      if (pending.size() < size && seqs.size() + pending.size() < count) continue;
      try {
        s.commit();
        for (Message d : pending) {
          boolean newId = ids.add(d.getJMSMessageID());
          if (seqs.add(d.getIntProperty("seq"))) {
            if (seqs.size() % PROGRESS_EVERY == 0) say("PROGRESS " + seqs.size());
          } else if (newId) {
            again++; // the same content sent again as a new message (a retried send)
            say("AGAIN seq " + d.getIntProperty("seq") + " " + d.getJMSMessageID());
          }
        }
      } catch (TransactionRolledBackException e) {
        rolledBack++;
        say("ROLLEDBACK " + e.getMessage());
      }
      pending.clear();
    }
    c.close();
    return "received=" + seqs.size() + " again=" + again + " rolledBack=" + rolledBack + " redelivered=" + redelivered;
  }
}
