// The Netty peer for `weft echo --framing length` in benches/peers.sh:
// Netty 4.1 (Debian's libnetty-java), NIO, one event-loop thread, the
// pipeline a Netty user writes for a 4-byte length-prefixed protocol:
// LengthFieldBasedFrameDecoder (strips the prefix) + LengthFieldPrepender,
// each frame written back, one flush in channelReadComplete.
//
// Build and run (peers.sh does this):
//   javac -cp /usr/share/java/netty-all.jar -d OUT NettyEcho.java
//   java -cp OUT:/usr/share/java/netty-all.jar NettyEcho 127.0.0.1 7010
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;

public final class NettyEcho {
    /** Largest frame, as weft echo's default (16 MiB) plus its header. */
    static final int MAX_FRAME = (16 << 20) + 4;

    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 7010;
        EventLoopGroup group = new NioEventLoopGroup(1);
        try {
            ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                            .addLast(new LengthFieldBasedFrameDecoder(MAX_FRAME, 0, 4, 0, 4))
                            .addLast(new LengthFieldPrepender(4))
                            .addLast(new Echo());
                    }
                });
            b.bind(host, port).sync();
            System.out.println("listening on " + host + ":" + port);
            b.config().group().terminationFuture().sync();
        } finally {
            group.shutdownGracefully();
        }
    }
}
