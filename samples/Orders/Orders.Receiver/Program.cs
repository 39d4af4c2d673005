using Orders.Receiver;

await OrdersReceiver.Build(args).RunAsync();
