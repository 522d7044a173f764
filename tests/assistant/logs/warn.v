module warn(input clk, input [3:0] a, output reg [7:0] y, output z);
  always @* if (a[0]) y = a;
  assign undeclared_net = a[1];
  assign undeclared_two = a[2];
  assign undeclared_three = a[3];
endmodule
module wrap(input [3:0] a, output [7:0] y);
  warn u_w(.clk(1'b0), .a({a, a}), .y(y));
endmodule
