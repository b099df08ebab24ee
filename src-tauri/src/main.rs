fn main() {
    sidekick_app::run()
}
