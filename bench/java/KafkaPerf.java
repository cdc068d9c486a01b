// Raw Kafka throughput with the Java client (the client Flink's Kafka connector uses).
//   java -cp 'flink-conf/jars/kafka/*:DIR' KafkaPerf produce BOOTSTRAP TOPIC FILE COUNT
//   java -cp 'flink-conf/jars/kafka/*:DIR' KafkaPerf consume BOOTSTRAP TOPIC COUNT
//   java -cp 'flink-conf/jars/kafka/*:DIR' KafkaPerf pipe BOOTSTRAP TOPIC < events.jsonl
// Prints one JSON line: {"records": N, "bytes": B, "seconds": S}. `pipe` sends each line of its
// standard input as it comes (bench.loadgen writes into it), keyed by the event's user_id.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class KafkaPerf {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("produce")) produce(args[1], args[2], args[3], Long.parseLong(args[4]));
        else if (args[0].equals("pipe")) pipe(args[1], args[2]);
        else consume(args[1], args[2], Long.parseLong(args[3]));
    }

    static Properties producerProps(String bootstrap) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "1");
        p.put("linger.ms", "20");
        p.put("batch.size", String.valueOf(512 * 1024));
        p.put("buffer.memory", String.valueOf(256L * 1024 * 1024));
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        return p;
    }

    static byte[] key(String line) {
        int i = line.indexOf("\"user_id\":\"") + 11;
        return line.substring(i, line.indexOf('"', i)).getBytes(StandardCharsets.UTF_8);
    }

    static void pipe(String bootstrap, String topic) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20);
        long n = 0, bytes = 0;
        long t0 = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(bootstrap))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) continue;
                byte[] value = line.getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(topic, key(line), value));
                n++;
                bytes += value.length;
            }
            producer.flush();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.println("{\"records\": " + n + ", \"bytes\": " + bytes + ", \"seconds\": " + s + "}");
    }

    static void produce(String bootstrap, String topic, String file, long count) throws Exception {
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(file), StandardCharsets.UTF_8)) {
            if (values.size() >= count) break;
            keys.add(key(line));
            values.add(line.getBytes(StandardCharsets.UTF_8));
        }
        long bytes = 0;
        long t0 = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(bootstrap))) {
            for (int i = 0; i < values.size(); i++) {
                producer.send(new ProducerRecord<>(topic, keys.get(i), values.get(i)));
                bytes += values.get(i).length;
            }
            producer.flush();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.println("{\"records\": " + values.size() + ", \"bytes\": " + bytes + ", \"seconds\": " + s + "}");
    }

    static void consume(String bootstrap, String topic, long count) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "5000");
        p.put("fetch.max.bytes", String.valueOf(64 * 1024 * 1024));
        p.put("max.partition.fetch.bytes", String.valueOf(8 * 1024 * 1024));
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long n = 0, bytes = 0;
        long t0 = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic)) parts.add(new TopicPartition(topic, info.partition()));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long deadline = System.currentTimeMillis() + 120_000;
            while (n < count && System.currentTimeMillis() < deadline) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (t0 == 0 && !records.isEmpty()) t0 = System.nanoTime();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    n++;
                    bytes += r.value().length;
                }
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.println("{\"records\": " + n + ", \"bytes\": " + bytes + ", \"seconds\": " + s + "}");
    }
}
