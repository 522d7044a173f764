// cru.v - Pico SoC clock and reset unit (CRU).
// Register map (offsets from 0x4000_3000), see docs/cru.md:
//   0x00 CLK_EN     [0] DMA [1] UART [2] TIMER           reset 0x0 (clocks gated)
//   0x04 RST_CTRL   [0] DMA [1] UART [2] TIMER (1 = held) reset 0x7
//   0x08 RST_STATUS [0] POR_FLAG (W1C) [1] SWRST_FLAG (W1C)
//                   [4] DMA_RDY [5] UART_RDY [6] TIMER_RDY (RO, block out of reset)
//   0x0C SYS_RST    [15:8] KEY (must be 0xA5) [0] REQ (WO)
// Every block reset is asserted asynchronously and released synchronously to
// that block's gated clock, so a reset released while the clock is gated stays
// asserted until CLK_EN turns the clock on.

// Reset synchronizer: asynchronous assert, two-flop synchronous release.
module cru_rst_sync (
    input  wire clk,
    input  wire arst_n,
    output wire rst_n
);
    reg [1:0] sync;
    always @(posedge clk or negedge arst_n) begin
        if (!arst_n)
            sync <= 2'b00;
        else
            sync <= {sync[0], 1'b1};
    end
    assign rst_n = sync[1];
endmodule

// Glitch-free clock gate: the enable is latched while the clock is low.
module cru_clk_gate (
    input  wire clk,
    input  wire en,
    output wire gclk
);
    reg en_lat;
    always @(*) begin
        if (!clk)
            en_lat = en;
    end
    assign gclk = clk & en_lat;
endmodule

module cru (
    input  wire        clk_ref,     // 50 MHz reference, also the always-on system clock
    input  wire        por_n,       // asynchronous power-on reset from the pad
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [7:0]  paddr,
    input  wire [31:0] pwdata,
    output reg  [31:0] prdata,
    output wire        pready,
    output wire        sys_rst_n,   // CPU, interconnect and CRU-external logic
    output wire        dma_clk,
    output wire        uart_clk,
    output wire        timer_clk,
    output wire        dma_rst_n,
    output wire        uart_rst_n,
    output wire        timer_rst_n
);
    localparam A_CLK_EN     = 8'h00;
    localparam A_RST_CTRL   = 8'h04;
    localparam A_RST_STATUS = 8'h08;
    localparam A_SYS_RST    = 8'h0C;
    localparam SYS_RST_KEY  = 8'hA5;

    wire por_rst_n;
    reg  [2:0] clk_en;
    reg  [2:0] rst_ctrl;
    reg        por_flag, swrst_flag;
    reg  [3:0] swrst_cnt;      // holds sys_rst_n low for 16 cycles after a request
    reg        swrst_hold;

    wire wr      = psel & penable & pwrite;
    wire swrst_q = wr && paddr == A_SYS_RST && pwdata[15:8] == SYS_RST_KEY && pwdata[0];

    assign pready = 1'b1;

    cru_rst_sync u_por_sync (.clk(clk_ref), .arst_n(por_n), .rst_n(por_rst_n));

    always @(posedge clk_ref or negedge por_rst_n) begin
        if (!por_rst_n) begin
            clk_en     <= 3'b000;
            rst_ctrl   <= 3'b111;
            por_flag   <= 1'b1;
            swrst_flag <= 1'b0;
            swrst_cnt  <= 4'd0;
            swrst_hold <= 1'b0;
        end else if (swrst_q) begin
            clk_en     <= 3'b000;
            rst_ctrl   <= 3'b111;
            swrst_flag <= 1'b1;
            swrst_cnt  <= 4'd15;
            swrst_hold <= 1'b1;
        end else begin
            if (swrst_cnt != 4'd0)
                swrst_cnt <= swrst_cnt - 4'd1;
            else
                swrst_hold <= 1'b0;
            if (wr && paddr == A_CLK_EN)   clk_en   <= pwdata[2:0];
            if (wr && paddr == A_RST_CTRL) rst_ctrl <= pwdata[2:0];
            if (wr && paddr == A_RST_STATUS) begin
                if (pwdata[0]) por_flag   <= 1'b0;
                if (pwdata[1]) swrst_flag <= 1'b0;
            end
        end
    end

    wire sys_arst_n = por_rst_n & ~swrst_hold;
    cru_rst_sync u_sys_sync (.clk(clk_ref), .arst_n(sys_arst_n), .rst_n(sys_rst_n));

    cru_clk_gate u_cg_dma   (.clk(clk_ref), .en(clk_en[0]), .gclk(dma_clk));
    cru_clk_gate u_cg_uart  (.clk(clk_ref), .en(clk_en[1]), .gclk(uart_clk));
    cru_clk_gate u_cg_timer (.clk(clk_ref), .en(clk_en[2]), .gclk(timer_clk));

    cru_rst_sync u_dma_sync   (.clk(dma_clk),   .arst_n(sys_rst_n & ~rst_ctrl[0]), .rst_n(dma_rst_n));
    cru_rst_sync u_uart_sync  (.clk(uart_clk),  .arst_n(sys_rst_n & ~rst_ctrl[1]), .rst_n(uart_rst_n));
    cru_rst_sync u_timer_sync (.clk(timer_clk), .arst_n(sys_rst_n & ~rst_ctrl[2]), .rst_n(timer_rst_n));

    always @(*) begin
        case (paddr)
            A_CLK_EN:     prdata = {29'd0, clk_en};
            A_RST_CTRL:   prdata = {29'd0, rst_ctrl};
            A_RST_STATUS: prdata = {25'd0, timer_rst_n, uart_rst_n, dma_rst_n, 2'b00, swrst_flag, por_flag};
            default:      prdata = 32'd0;
        endcase
    end
endmodule
